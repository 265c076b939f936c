package runbooks

import (
	"sort"
	"strings"
)

// nearest returns the candidate closest to s by edit distance, or "" when none is close
// enough to be a plausible typo (more than a third of the word differs).
func nearest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := max(1, (len(s)+2)/3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// didYouMean formats a suggestion for an unknown name: `; did you mean "x"?` or, when no
// candidate is close, the list of valid names.
func didYouMean(s string, candidates []string) string {
	if n := nearest(s, candidates); n != "" {
		return `; did you mean "` + n + `"?`
	}
	if len(candidates) == 0 {
		return ""
	}
	return "; valid: " + strings.Join(sortedCopy(candidates), ", ")
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// editDistance is the Levenshtein distance of a and b, counted in bytes (names are ASCII).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Long strings are never typos of a short key; avoid quadratic work on junk input.
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
