package githubfake

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func (f *Fake) routes() http.Handler {
	mux := http.NewServeMux()
	repo := "/repos/" + f.opts.Owner + "/" + f.opts.Name
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+repo+path, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			h(w, r)
		})
	}
	handle("GET ", f.getRepo)
	handle("GET /commits", f.listCommits)
	handle("GET /commits/{sha}", f.getCommit)
	handle("GET /commits/{sha}/pulls", f.pullsWithCommit)
	handle("GET /git/ref/{ref...}", f.getRef)
	handle("POST /git/refs", f.createRef)
	handle("GET /git/commits/{sha}", f.getGitCommit)
	handle("POST /git/commits", f.createGitCommit)
	handle("GET /git/trees/{sha}", f.getTree)
	handle("POST /git/trees", f.createTree)
	handle("GET /pulls", f.listPulls)
	handle("POST /pulls", f.createPull)
	handle("GET /pulls/{n}", f.getPull)
	handle("GET /pulls/{n}/files", f.pullFiles)
	handle("POST /pulls/{n}/requested_reviewers", f.requestReviewers)
	handle("POST /issues/{n}/labels", f.addLabels)
	handle("POST /statuses/{sha}", f.createStatus)
	handle("GET /commits/{sha}/statuses", f.listStatuses)
	handle("GET /actions/variables/{name}", f.getVariable)
	handle("POST /actions/variables", f.createVariable)
	handle("PATCH /actions/variables/{name}", f.updateVariable)
	handle("DELETE /actions/variables/{name}", f.deleteVariable)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return f.serve(mux)
}

func (f *Fake) getRepo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": f.opts.Name, "full_name": f.Repo(), "default_branch": f.opts.DefaultBranch,
		"owner": map[string]string{"login": f.opts.Owner},
	})
}

// paginate answers one page of n items: it returns the index range and sets Link.
func paginate(w http.ResponseWriter, r *http.Request, n int) (int, int) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max(1, (n+per-1)/per)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return "<" + u.String() + `>; rel="` + rel + `"`
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*per, n)
	return start, min(start+per, n)
}

// resolve turns a SHA (full or at least 7 hex) or a branch name into a commit.
func (f *Fake) resolve(rev string) (*object.Commit, bool) {
	if h, ok := f.branchHead(rev); ok {
		c, err := f.repo.CommitObject(h)
		return c, err == nil
	}
	if len(rev) == 40 {
		c, err := f.repo.CommitObject(plumbing.NewHash(rev))
		return c, err == nil
	}
	if len(rev) >= 7 {
		iter, err := f.repo.CommitObjects()
		if err != nil {
			return nil, false
		}
		var found *object.Commit
		_ = iter.ForEach(func(c *object.Commit) error {
			if strings.HasPrefix(c.Hash.String(), rev) {
				found = c
			}
			return nil
		})
		return found, found != nil
	}
	return nil, false
}

func (f *Fake) listCommits(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from := q.Get("sha")
	if from == "" {
		from = f.opts.DefaultBranch
	}
	start, ok := f.resolve(from)
	if !ok {
		notFound(w)
		return
	}
	var since, until time.Time
	for name, t := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad " + name + ": " + v})
				return
			}
			*t = parsed
		}
	}
	all, err := f.ancestors(start.Hash)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	path := strings.Trim(q.Get("path"), "/")
	var list []*object.Commit
	for _, c := range all {
		when := c.Committer.When
		if (!since.IsZero() && when.Before(since)) || (!until.IsZero() && when.After(until)) {
			continue
		}
		if path != "" {
			touched, err := f.touchesPath(c, path)
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
				return
			}
			if !touched {
				continue
			}
		}
		list = append(list, c)
	}
	lo, hi := paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, c := range list[lo:hi] {
		out = append(out, f.repoCommitJSON(c, nil))
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) webURL(parts ...string) string {
	return f.server.URL + "/" + f.Repo() + "/" + strings.Join(parts, "/")
}

func sigJSON(s object.Signature) map[string]string {
	return map[string]string{"name": s.Name, "email": s.Email, "date": s.When.UTC().Format(time.RFC3339)}
}

// Login is the GitHub login the fake gives an author: the name before a space, lowercased.
func Login(name string) string {
	first, _, _ := strings.Cut(name, " ")
	return strings.ToLower(first)
}

func (f *Fake) repoCommitJSON(c *object.Commit, files []fileChange) map[string]any {
	parents := make([]map[string]string, 0, len(c.ParentHashes))
	for _, p := range c.ParentHashes {
		parents = append(parents, map[string]string{"sha": p.String()})
	}
	out := map[string]any{
		"sha":      c.Hash.String(),
		"html_url": f.webURL("commit", c.Hash.String()),
		"commit": map[string]any{
			"message": c.Message, "author": sigJSON(c.Author), "committer": sigJSON(c.Committer),
			"tree": map[string]string{"sha": c.TreeHash.String()},
		},
		"author":  map[string]string{"login": Login(c.Author.Name)},
		"parents": parents,
	}
	if files != nil {
		list := make([]map[string]any, 0, len(files))
		adds, dels := 0, 0
		for _, fc := range files {
			e := map[string]any{"filename": fc.Name, "status": fc.Status, "additions": fc.Additions,
				"deletions": fc.Deletions, "changes": fc.Additions + fc.Deletions, "sha": fc.SHA}
			if fc.Previous != "" {
				e["previous_filename"] = fc.Previous
			}
			list = append(list, e)
			adds, dels = adds+fc.Additions, dels+fc.Deletions
		}
		out["files"] = list
		out["stats"] = map[string]int{"additions": adds, "deletions": dels, "total": adds + dels}
	}
	return out
}

func (f *Fake) getCommit(w http.ResponseWriter, r *http.Request) {
	c, ok := f.resolve(r.PathValue("sha"))
	if !ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found for SHA: " + r.PathValue("sha")})
		return
	}
	files, err := f.commitDiff(c)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	lo, hi := paginate(w, r, len(files))
	writeJSON(w, http.StatusOK, f.repoCommitJSON(c, append([]fileChange{}, files[lo:hi]...)))
}

func (f *Fake) getRef(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	branch, ok := strings.CutPrefix(ref, "heads/")
	if !ok {
		notFound(w)
		return
	}
	h, ok := f.branchHead(branch)
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, refJSON(branch, h))
}

func refJSON(branch string, h plumbing.Hash) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]string{"sha": h.String(), "type": "commit"}}
}

func (f *Fake) createRef(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasPrefix(req.Ref, "refs/heads/") {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "ref must be refs/heads/<branch>"})
		return
	}
	branch := strings.TrimPrefix(req.Ref, "refs/heads/")
	if _, exists := f.branchHead(branch); exists {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists"})
		return
	}
	if _, err := f.repo.CommitObject(plumbing.NewHash(req.SHA)); err != nil || len(req.SHA) != 40 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Object does not exist"})
		return
	}
	f.setBranch(branch, plumbing.NewHash(req.SHA))
	writeJSON(w, http.StatusCreated, refJSON(branch, plumbing.NewHash(req.SHA)))
}

func gitCommitJSON(c *object.Commit) map[string]any {
	parents := make([]map[string]string, 0, len(c.ParentHashes))
	for _, p := range c.ParentHashes {
		parents = append(parents, map[string]string{"sha": p.String()})
	}
	return map[string]any{
		"sha": c.Hash.String(), "message": c.Message, "author": sigJSON(c.Author), "committer": sigJSON(c.Committer),
		"tree": map[string]string{"sha": c.TreeHash.String()}, "parents": parents,
	}
}

func (f *Fake) getGitCommit(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	c, err := f.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil || len(sha) != 40 {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, gitCommitJSON(c))
}

func (f *Fake) createGitCommit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message   string   `json:"message"`
		Tree      string   `json:"tree"`
		Parents   []string `json:"parents"`
		Author    *author  `json:"author"`
		Committer *author  `json:"committer"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	if _, err := f.repo.TreeObject(plumbing.NewHash(req.Tree)); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Tree SHA does not exist"})
		return
	}
	c := &object.Commit{Message: req.Message, TreeHash: plumbing.NewHash(req.Tree)}
	for _, p := range req.Parents {
		if _, err := f.repo.CommitObject(plumbing.NewHash(p)); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Parent SHA does not exist or is not a commit object"})
			return
		}
		c.ParentHashes = append(c.ParentHashes, plumbing.NewHash(p))
	}
	c.Author = req.Author.signature(time.Now())
	c.Committer = c.Author
	if req.Committer != nil {
		c.Committer = req.Committer.signature(c.Author.When)
	}
	h, err := f.writeCommit(c)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	c.Hash = h
	writeJSON(w, http.StatusCreated, gitCommitJSON(c))
}

type author struct {
	Name  string    `json:"name"`
	Email string    `json:"email"`
	Date  time.Time `json:"date"`
}

func (a *author) signature(def time.Time) object.Signature {
	if a == nil {
		return object.Signature{Name: "fake-user", Email: "fake-user@example.com", When: def.Truncate(time.Second)}
	}
	if a.Date.IsZero() {
		a.Date = def
	}
	return object.Signature{Name: a.Name, Email: a.Email, When: a.Date.Truncate(time.Second)}
}

func (f *Fake) getTree(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	tree, err := f.repo.TreeObject(plumbing.NewHash(sha))
	if err != nil || len(sha) != 40 {
		notFound(w)
		return
	}
	var entries []map[string]any
	add := func(p string, e object.TreeEntry) {
		typ := "blob"
		switch e.Mode {
		case filemode.Dir:
			typ = "tree"
		case filemode.Submodule:
			typ = "commit"
		}
		entries = append(entries, map[string]any{"path": p, "mode": modeString(e.Mode), "type": typ, "sha": e.Hash.String()})
	}
	if r.URL.Query().Get("recursive") == "" {
		for _, e := range tree.Entries {
			add(e.Name, e)
		}
	} else {
		walker := object.NewTreeWalker(tree, true, nil)
		for {
			name, e, err := walker.Next()
			if err != nil {
				break
			}
			add(name, e)
		}
		walker.Close()
	}
	truncated := f.opts.TruncateTreesOver > 0 && r.URL.Query().Get("recursive") != "" && len(entries) > f.opts.TruncateTreesOver
	if truncated {
		entries = entries[:f.opts.TruncateTreesOver]
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": sha, "tree": entries, "truncated": truncated})
}

// modeString writes a mode as GitHub does: 100644, 100755, 120000, 160000, 040000.
func modeString(m filemode.FileMode) string {
	return strings.TrimPrefix(m.String(), "0")
}

func (f *Fake) createTree(w http.ResponseWriter, r *http.Request) {
	var req struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			SHA     *string `json:"sha"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	var base plumbing.Hash
	if req.BaseTree != "" {
		if _, err := f.repo.TreeObject(plumbing.NewHash(req.BaseTree)); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "base_tree is not a valid tree oid"})
			return
		}
		base = plumbing.NewHash(req.BaseTree)
	}
	flat, err := f.flatten(base)
	if err == nil {
		err = f.applyTreeEdits(flat, req.Tree)
	}
	var bad *badEntry
	if errors.As(err, &bad) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": bad.msg})
		return
	}
	h, err := f.buildTree(flat)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"sha": h.String(), "truncated": false})
}

type badEntry struct{ msg string }

func (b *badEntry) Error() string { return b.msg }

func (f *Fake) applyTreeEdits(flat map[string]flatEntry, edits []struct {
	Path    string  `json:"path"`
	Mode    string  `json:"mode"`
	Type    string  `json:"type"`
	SHA     *string `json:"sha"`
	Content *string `json:"content"`
}) error {
	for _, e := range edits {
		p := strings.Trim(e.Path, "/")
		switch {
		case e.SHA == nil && e.Content == nil: // delete the path (a file or a whole folder)
			for name := range flat {
				if name == p || strings.HasPrefix(name, p+"/") {
					delete(flat, name)
				}
			}
		case e.Content != nil:
			h, err := f.writeBlob(*e.Content)
			if err != nil {
				return err
			}
			flat[p] = flatEntry{Hash: h, Mode: parseMode(e.Mode)}
		default:
			h := plumbing.NewHash(*e.SHA)
			if _, err := f.repo.BlobObject(h); err != nil {
				return &badEntry{msg: "tree.sha " + *e.SHA + " is not a valid blob"}
			}
			flat[p] = flatEntry{Hash: h, Mode: parseMode(e.Mode)}
		}
	}
	return nil
}

func parseMode(s string) filemode.FileMode {
	m, err := filemode.New(s)
	if err != nil {
		return filemode.Regular
	}
	return m
}
