package bundle

import (
	"cmp"
	"slices"
)

// modelCounter counts, per request model, which response models answered its successful
// requests in each window: the headline names the response model before and during the
// incident, which silent-model-change pins the alias back to.
type modelCounter struct {
	byRequest map[string]*modelPair
}

type modelPair struct{ base, inc map[string]int }

// maxRequestModels bounds the counter against a log with a model name per request.
const maxRequestModels = 256

func newModelCounter() *modelCounter { return &modelCounter{byRequest: map[string]*modelPair{}} }

// add counts a successful request whose answer names a model other than the one asked
// for: a failed one names none (the record fills in the request model), and an answer
// under the alias itself says nothing about the version behind it.
func (c *modelCounter) add(r *Record, incident bool) {
	if r.failed() || r.RequestModel == "" || r.ResponseModel == "" || r.ResponseModel == r.RequestModel {
		return
	}
	p, ok := c.byRequest[r.RequestModel]
	if !ok {
		if len(c.byRequest) >= maxRequestModels {
			return
		}
		p = &modelPair{base: map[string]int{}, inc: map[string]int{}}
		c.byRequest[r.RequestModel] = p
	}
	if incident {
		p.inc[r.ResponseModel]++
	} else {
		p.base[r.ResponseModel]++
	}
}

// dominant is the response model with the most requests (ties: the first name), "" for none.
func dominant(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}

// headline picks the request model (want, else the one whose incident answers moved
// furthest from its baseline model, else the busiest) and its dominant response model in
// each window.
func (c *modelCounter) headline(want string) (request, baseline, incident string) {
	if want != "" {
		p, ok := c.byRequest[want]
		if !ok {
			return want, "", ""
		}
		return want, dominant(p.base), dominant(p.inc)
	}
	type cand struct {
		name        string
		moved       float64 // share of incident answers not by the baseline's model
		requests    int
		base, incMx string
	}
	var cands []cand
	for name, p := range c.byRequest {
		b, total := dominant(p.base), 0
		for _, v := range p.inc {
			total += v
		}
		if b == "" || total == 0 {
			continue
		}
		cands = append(cands, cand{name: name, moved: 1 - float64(p.inc[b])/float64(total), requests: total, base: b, incMx: dominant(p.inc)})
	}
	if len(cands) == 0 {
		return "", "", ""
	}
	best := slices.MinFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.moved, a.moved), cmp.Compare(b.requests, a.requests), cmp.Compare(a.name, b.name))
	})
	return best.name, best.base, best.incMx
}
