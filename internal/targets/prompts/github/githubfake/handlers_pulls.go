package githubfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Pull is a pull request of the fake.
type Pull struct {
	Number        int
	Title, Body   string
	Head, Base    string // branch names
	State         string // open | closed
	Draft         bool
	Merged        bool
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	headSHA       plumbing.Hash // frozen when merged or closed
	commits       map[plumbing.Hash]bool
}

// Status is a commit status.
type Status struct {
	ID          int64
	State       string
	Description string
	Context     string
	TargetURL   string
}

func (f *Fake) pullHead(p *Pull) plumbing.Hash {
	if p.State == "open" {
		if h, ok := f.branchHead(p.Head); ok {
			return h
		}
	}
	return p.headSHA
}

func (f *Fake) pullJSON(p *Pull) map[string]any {
	labels := make([]map[string]string, 0, len(p.Labels))
	for _, l := range p.Labels {
		labels = append(labels, map[string]string{"name": l})
	}
	reviewers := make([]map[string]string, 0, len(p.Reviewers))
	for _, r := range p.Reviewers {
		reviewers = append(reviewers, map[string]string{"login": r})
	}
	teams := make([]map[string]string, 0, len(p.TeamReviewers))
	for _, t := range p.TeamReviewers {
		teams = append(teams, map[string]string{"slug": t})
	}
	baseSHA, _ := f.branchHead(p.Base)
	out := map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "draft": p.Draft,
		"html_url": f.webURL("pull", strconv.Itoa(p.Number)),
		"head": map[string]any{"ref": p.Head, "sha": f.pullHead(p).String(), "label": f.opts.Owner + ":" + p.Head,
			"repo": map[string]string{"full_name": f.Repo()}},
		"base":   map[string]any{"ref": p.Base, "sha": baseSHA.String(), "repo": map[string]string{"full_name": f.Repo()}},
		"labels": labels, "requested_reviewers": reviewers, "requested_teams": teams, "merged": p.Merged,
	}
	if p.Merged {
		out["merged_at"] = time.Now().UTC().Format(time.RFC3339)
	}
	return out
}

func (f *Fake) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head := q.Get("head")
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if owner != f.opts.Owner {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		head = branch
	}
	var list []*Pull
	for i := len(f.pulls) - 1; i >= 0; i-- { // newest first
		p := f.pulls[i]
		if (state == "all" || p.State == state) && (head == "" || p.Head == head) && (q.Get("base") == "" || p.Base == q.Get("base")) {
			list = append(list, p)
		}
	}
	lo, hi := paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, p := range list[lo:hi] {
		out = append(out, f.pullJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) pull(w http.ResponseWriter, r *http.Request) *Pull {
	n, _ := strconv.Atoi(r.PathValue("n"))
	for _, p := range f.pulls {
		if p.Number == n {
			return p
		}
	}
	notFound(w)
	return nil
}

func (f *Fake) getPull(w http.ResponseWriter, r *http.Request) {
	if p := f.pull(w, r); p != nil {
		writeJSON(w, http.StatusOK, f.pullJSON(p))
	}
}

func (f *Fake) createPull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title, Head, Base, Body string
		Draft                   bool
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	if _, branch, ok := strings.Cut(req.Head, ":"); ok {
		req.Head = branch
	}
	p, err := f.openPull(req.Head, req.Base, req.Title, req.Body, req.Draft)
	if err != "" {
		unprocessable(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, f.pullJSON(p))
}

// openPull validates and records a new pull request; a non-empty string is GitHub's refusal.
func (f *Fake) openPull(head, base, title, body string, draft bool) (*Pull, string) {
	headSHA, ok := f.branchHead(head)
	if !ok {
		return nil, "head invalid: no branch " + head
	}
	baseSHA, ok := f.branchHead(base)
	if !ok {
		return nil, "base invalid: no branch " + base
	}
	for _, p := range f.pulls {
		if p.State == "open" && p.Head == head && p.Base == base {
			return nil, "A pull request already exists for " + f.opts.Owner + ":" + head + "."
		}
	}
	commits, err := f.between(baseSHA, headSHA)
	if err != nil || len(commits) == 0 {
		return nil, "No commits between " + base + " and " + head
	}
	p := &Pull{Number: len(f.pulls) + 1, Title: title, Body: body, Head: head, Base: base, State: "open", Draft: draft, commits: commits}
	f.pulls = append(f.pulls, p)
	return p, ""
}

// between is the set of commits reachable from head and not from base.
func (f *Fake) between(base, head plumbing.Hash) (map[plumbing.Hash]bool, error) {
	inBase, err := f.reachable(base)
	if err != nil {
		return nil, err
	}
	inHead, err := f.reachable(head)
	out := map[plumbing.Hash]bool{}
	for h := range inHead {
		if !inBase[h] {
			out[h] = true
		}
	}
	return out, err
}

func (f *Fake) pullFiles(w http.ResponseWriter, r *http.Request) {
	p := f.pull(w, r)
	if p == nil {
		return
	}
	files, err := f.pullDiff(p)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	lo, hi := paginate(w, r, len(files))
	out := make([]map[string]any, 0, hi-lo)
	for _, fc := range files[lo:hi] {
		e := map[string]any{"filename": fc.Name, "status": fc.Status, "additions": fc.Additions, "deletions": fc.Deletions, "sha": fc.SHA}
		if fc.Previous != "" {
			e["previous_filename"] = fc.Previous
		}
		out = append(out, e)
	}
	writeJSON(w, http.StatusOK, out)
}

// pullDiff compares the merge base of the pull request with its head.
func (f *Fake) pullDiff(p *Pull) ([]fileChange, error) {
	head, err := f.repo.CommitObject(f.pullHead(p))
	if err != nil {
		return nil, err
	}
	baseSHA, _ := f.branchHead(p.Base)
	base, err := f.repo.CommitObject(baseSHA)
	if err != nil {
		return nil, err
	}
	bases, err := base.MergeBase(head)
	if err != nil {
		return nil, err
	}
	var from plumbing.Hash
	if len(bases) > 0 {
		from = bases[0].TreeHash
	}
	return f.diff(from, head.TreeHash)
}

func (f *Fake) pullsWithCommit(w http.ResponseWriter, r *http.Request) {
	c, ok := f.resolve(r.PathValue("sha"))
	if !ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found for SHA: " + r.PathValue("sha")})
		return
	}
	var out []map[string]any
	for _, p := range f.pulls {
		commits := p.commits
		if p.State == "open" {
			baseSHA, _ := f.branchHead(p.Base)
			commits, _ = f.between(baseSHA, f.pullHead(p))
		}
		if commits[c.Hash] {
			out = append(out, f.pullJSON(p))
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) requestReviewers(w http.ResponseWriter, r *http.Request) {
	p := f.pull(w, r)
	if p == nil {
		return
	}
	var req struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	for _, rv := range req.Reviewers {
		if !slices.Contains(p.Reviewers, rv) {
			p.Reviewers = append(p.Reviewers, rv)
		}
	}
	for _, t := range req.TeamReviewers {
		if !slices.Contains(p.TeamReviewers, t) {
			p.TeamReviewers = append(p.TeamReviewers, t)
		}
	}
	writeJSON(w, http.StatusCreated, f.pullJSON(p))
}

func (f *Fake) addLabels(w http.ResponseWriter, r *http.Request) {
	p := f.pull(w, r)
	if p == nil {
		return
	}
	var labels []string
	if err := json.NewDecoder(r.Body).Decode(&labels); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON: send an array of label names"})
		return
	}
	for _, l := range labels {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	out := make([]map[string]string, 0, len(p.Labels))
	for _, l := range p.Labels {
		out = append(out, map[string]string{"name": l})
	}
	writeJSON(w, http.StatusOK, out)
}

// listStatuses answers GET /commits/{ref}/statuses: a commit's statuses, newest first,
// as GitHub lists them (one page; quench reads only the newest of its context).
func (f *Fake) listStatuses(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	list := f.statuses[sha]
	out := make([]map[string]any, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		st := list[i]
		out = append(out, map[string]any{"id": st.ID, "state": st.State, "description": st.Description, "context": st.Context, "target_url": st.TargetURL})
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) createStatus(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if _, err := f.repo.CommitObject(plumbing.NewHash(sha)); err != nil || len(sha) != 40 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found for SHA: " + sha})
		return
	}
	var req struct {
		State       string `json:"state"`
		Description string `json:"description"`
		Context     string `json:"context"`
		TargetURL   string `json:"target_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, req.State) || len([]rune(req.Description)) > 140 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed: state or description"})
		return
	}
	if req.Context == "" {
		req.Context = "default"
	}
	f.nextID++
	st := Status{ID: f.nextID, State: req.State, Description: req.Description, Context: req.Context, TargetURL: req.TargetURL}
	f.statuses[sha] = append(f.statuses[sha], st)
	writeJSON(w, http.StatusCreated, map[string]any{"id": st.ID, "state": st.State, "description": st.Description, "context": st.Context, "target_url": st.TargetURL})
}

func (f *Fake) getVariable(w http.ResponseWriter, r *http.Request) {
	v, ok := f.variables[r.PathValue("name")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "value": v})
}

func (f *Fake) createVariable(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, Value string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "name is required"})
		return
	}
	if _, exists := f.variables[req.Name]; exists {
		writeJSON(w, http.StatusConflict, map[string]string{"message": "Already exists - Variable already exists"})
		return
	}
	f.variables[req.Name] = req.Value
	writeJSON(w, http.StatusCreated, map[string]string{})
}

func (f *Fake) updateVariable(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, exists := f.variables[name]; !exists {
		notFound(w)
		return
	}
	var req struct{ Value string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	f.variables[name] = req.Value
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) deleteVariable(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, exists := f.variables[name]; !exists {
		notFound(w)
		return
	}
	delete(f.variables, name)
	w.WriteHeader(http.StatusNoContent)
}
