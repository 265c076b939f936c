package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// temporalModule is the pinned go.temporal.io/server in the module cache: its docker/
// directory is what the temporalio/server and admin-tools images of that version are built
// from, so the deploy files can be checked against it without pulling them.
func temporalModule(t *testing.T) (dir, version string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "go.temporal.io/server")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m go.temporal.io/server: %v", err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		t.Skip("go.temporal.io/server is not in the module cache (go mod download)")
	}
	return dir, version
}

func readModuleFile(t *testing.T, dir, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		t.Fatalf("the pinned Temporal server module: %v", err)
	}
	return string(b)
}

func TestTemporalContainersMatchThePinnedServerModule(t *testing.T) {
	dir, version := temporalModule(t)
	template := readModuleFile(t, dir, "docker/config_template.yaml")
	entrypoint := readModuleFile(t, dir, "docker/scripts/sh/entrypoint.sh")
	sqlTool := readModuleFile(t, dir, "tools/sql/main.go")
	uid := map[string]int{}
	for _, image := range []string{"server", "admin-tools"} {
		df := readModuleFile(t, dir, "docker/targets/"+image+".Dockerfile")
		mm := regexp.MustCompile(`adduser -u (\d+) .*\n(?s:.*)USER temporal`).FindStringSubmatch(df)
		if mm == nil {
			t.Fatalf("%s.Dockerfile: no numeric user temporal: update this test", image)
		}
		uid["temporalio/"+image], _ = strconv.Atoi(mm[1])
	}
	found := map[string]bool{}
	for _, c := range append(k8sContainers(t), composeContainers(t)...) {
		name, tag, _ := strings.Cut(c.Image, ":")
		if !strings.HasPrefix(name, "temporalio/") {
			continue
		}
		found[name] = true
		if "v"+tag != version {
			t.Errorf("%s: image %s, but go.mod pins go.temporal.io/server %s", c.Where, c.Image, version)
		}
		if want, ok := uid[name]; !ok {
			t.Errorf("%s: %s is not an image built from the server module", c.Where, name)
		} else if c.Pod != nil {
			if got, _ := m(c.Pod["securityContext"])["runAsUser"].(int); got != want {
				t.Errorf("%s: runAsUser %d, the image's user temporal is %d", c.Where, got, want)
			}
		}
		if db := c.Env["DB"]; !strings.Contains(template, `eq $db "`+db+`"`) || db != "postgres12" {
			t.Errorf("%s: DB=%q: want postgres12, a plugin the server's config template knows", c.Where, db)
		}
		for env := range c.Env {
			read := strings.Contains(template, ".Env."+env+" ") || strings.Contains(entrypoint, "${"+env) || strings.Contains(sqlTool, `"`+env+`"`)
			if !read {
				t.Errorf("%s sets %s, which neither the server's config template, its entrypoint nor temporal-sql-tool reads", c.Where, env)
			}
		}
		if name != "temporalio/admin-tools" {
			continue
		}
		script := strings.Join(c.Args, " ")
		// The admin-tools image copies the module's schema/ to /etc/temporal/schema.
		schemas := regexp.MustCompile(`/etc/temporal/schema/(\S+)`).FindAllStringSubmatch(script, -1)
		if len(schemas) != 2 {
			t.Errorf("%s: %d schema directories, want persistence and visibility", c.Where, len(schemas))
		}
		for _, s := range schemas {
			if st, err := os.Stat(filepath.Join(dir, "schema", s[1])); err != nil || !st.IsDir() {
				t.Errorf("%s: schema directory %s is not in go.temporal.io/server %s", c.Where, s[1], version)
			}
		}
		for _, sub := range regexp.MustCompile(`--db \S+ (\S+)`).FindAllStringSubmatch(script, -1) {
			if !strings.Contains(sqlTool, `Name:    "`+sub[1]+`"`) {
				t.Errorf("%s: temporal-sql-tool has no command %s", c.Where, sub[1])
			}
		}
	}
	for _, name := range []string{"temporalio/server", "temporalio/admin-tools"} {
		if !found[name] {
			t.Errorf("no %s container", name)
		}
	}
}

// POSTGRES_SEEDS and DB_PORT name the PostgreSQL Service (k8s) or service (compose).
func TestTemporalReachesPostgres(t *testing.T) {
	k8sPorts := map[string][]int{}
	for _, obj := range k8sObjects(t) {
		if s(obj["kind"]) == "Service" {
			for _, p := range l(m(obj["spec"])["ports"]) {
				n, _ := m(p)["port"].(int)
				k8sPorts[s(m(obj["metadata"])["name"])] = append(k8sPorts[s(m(obj["metadata"])["name"])], n)
			}
		}
	}
	services := m(composeFile(t)["services"])
	for _, c := range append(k8sContainers(t), composeContainers(t)...) {
		host, ok := c.Env["POSTGRES_SEEDS"]
		if !ok {
			continue
		}
		port, _ := strconv.Atoi(c.Env["DB_PORT"])
		if c.Pod != nil {
			if !slices.Contains(k8sPorts[host], port) {
				t.Errorf("%s: %s:%d is no Service port", c.Where, host, port)
			}
		} else if svc := m(services[host]); svc == nil || !strings.HasPrefix(s(svc["image"]), "postgres:") || port != 5432 {
			t.Errorf("%s: %s:%d is not the postgres service", c.Where, host, port)
		}
	}
}
