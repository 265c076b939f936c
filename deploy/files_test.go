package deploy_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pinned: a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return false
	}
	tag := image[i+1:]
	return tag != "" && tag != "latest"
}

func TestImagesArePinned(t *testing.T) {
	var images []string
	for _, c := range append(k8sContainers(t), composeContainers(t)...) {
		if c.Image == "" {
			t.Errorf("%s has no image", c.Where)
		}
		images = append(images, c.Image)
	}
	for _, ins := range dockerfile(t) {
		if ins[0] == "FROM" {
			images = append(images, strings.Fields(ins[1])[0])
		}
	}
	for _, img := range images {
		if !pinned(img) {
			t.Errorf("image %q is not pinned: give a version tag or a digest", img)
		}
	}
	for _, p := range []struct{ prefix, want string }{
		{"temporalio/server:", "temporalio/server:1.32.1"},
		{"temporalio/admin-tools:", "temporalio/admin-tools:1.32.1"},
		{"postgres:", "postgres:16."},
	} {
		found := false
		for _, img := range images {
			if strings.HasPrefix(img, p.prefix) {
				found = true
				if !strings.HasPrefix(img, p.want) {
					t.Errorf("%s: want %s (the pinned server v1.32.1, PostgreSQL 16)", img, p.want)
				}
			}
		}
		if !found {
			t.Errorf("no %s image in the deploy files", p.prefix)
		}
	}
}

func TestKubernetesPodsRunNonRoot(t *testing.T) {
	cfg := deployConfig(t)
	for _, c := range k8sContainers(t) {
		if nonRoot, _ := m(c.Pod["securityContext"])["runAsNonRoot"].(bool); !nonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", c.Where)
		}
		if !c.NoPrivEsc {
			t.Errorf("%s: securityContext.allowPrivilegeEscalation is not false", c.Where)
		}
		if !isQuench(c.Image) {
			continue
		}
		if uid, _ := m(c.Pod["securityContext"])["runAsUser"].(int); uid != 65532 {
			t.Errorf("%s: runAsUser %d, want 65532 (distroless nonroot)", c.Where, uid)
		}
		if !c.ReadOnlyRoot {
			t.Errorf("%s: readOnlyRootFilesystem is not true", c.Where)
		}
		// The data dir is a volume of its own, per replica (emptyDir), never the image.
		vol := c.Volumes[c.Mounts[cfg.DataDir]]
		if vol == nil || vol["emptyDir"] == nil {
			t.Errorf("%s: data_dir %s is not an emptyDir volume", c.Where, cfg.DataDir)
		}
		if cm := c.Volumes[c.Mounts["/etc/quench"]]; s(m(cm["configMap"])["name"]) != "quench-config" {
			t.Errorf("%s: /etc/quench is not the ConfigMap quench-config", c.Where)
		}
	}
}

func TestComposeQuenchServicesAreReadOnlyWithADataVolume(t *testing.T) {
	cfg := deployConfig(t)
	for _, c := range composeContainers(t) {
		if !isQuench(c.Image) {
			continue
		}
		if !c.ReadOnlyRoot {
			t.Errorf("%s: read_only is not true", c.Where)
		}
		if src, ok := c.Mounts[cfg.DataDir]; !ok || src != "" {
			if cmd := command(t, c); cmd.Name() != "setup" {
				t.Errorf("%s: data_dir %s is not an anonymous (per replica) volume", c.Where, cfg.DataDir)
			}
		}
		if c.Mounts["/etc/quench/quench.yaml"] != "./quench.yaml" {
			t.Errorf("%s: /etc/quench/quench.yaml is not ./quench.yaml", c.Where)
		}
	}
	build := m(m(m(composeFile(t)["services"])["quench-setup"])["build"])
	if s(build["context"]) != ".." || s(build["dockerfile"]) != "deploy/Dockerfile" {
		t.Errorf("quench-setup builds %v, want context .. and deploy/Dockerfile", build)
	}
}

func TestConfigMapIsQuenchYAML(t *testing.T) {
	want, err := os.ReadFile("quench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range k8sObjects(t) {
		if s(obj["kind"]) == "ConfigMap" && s(m(obj["metadata"])["name"]) == "quench-config" {
			if got := s(m(obj["data"])["quench.yaml"]); got != string(want) {
				t.Fatalf("ConfigMap quench-config differs from quench.yaml: keep them equal")
			}
			return
		}
	}
	t.Fatal("no ConfigMap quench-config")
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	docs := readYAMLDocs(t, "k8s/kustomization.yaml")
	listed := strs(docs[0]["resources"])
	for _, f := range k8sFiles(t) {
		name := strings.TrimPrefix(f, "k8s/")
		if !slices.Contains(listed, name) {
			t.Errorf("k8s/kustomization.yaml does not list %s", name)
		}
	}
	if len(listed) != len(k8sFiles(t)) {
		t.Errorf("kustomization lists %v, k8s/ has %v", listed, k8sFiles(t))
	}
}

// TEMPORAL_ADDRESS names the frontend: a Service (k8s) or service (compose) on that port.
func TestTemporalAddressIsTheFrontend(t *testing.T) {
	services := map[string][]int{}
	for _, obj := range k8sObjects(t) {
		if s(obj["kind"]) == "Service" {
			for _, p := range l(m(obj["spec"])["ports"]) {
				n, _ := m(p)["port"].(int)
				services[s(m(obj["metadata"])["name"])] = append(services[s(m(obj["metadata"])["name"])], n)
			}
		}
	}
	for _, c := range k8sContainers(t) {
		if addr, ok := c.Env["TEMPORAL_ADDRESS"]; ok && isQuench(c.Image) {
			host, port, _ := strings.Cut(addr, ":")
			if !slices.ContainsFunc(services[host], func(n int) bool { return port == strconv.Itoa(n) }) {
				t.Errorf("%s: TEMPORAL_ADDRESS %s is no Service port (%v)", c.Where, addr, services)
			}
		}
	}
	composeSvcs := m(composeFile(t)["services"])
	for _, c := range composeContainers(t) {
		if addr, ok := c.Env["TEMPORAL_ADDRESS"]; ok {
			host, port, _ := strings.Cut(addr, ":")
			if !slices.Contains(strs(m(composeSvcs[host])["expose"]), port) {
				t.Errorf("%s: TEMPORAL_ADDRESS %s: service %s does not expose %s", c.Where, addr, host, port)
			}
		}
	}
}

// The Dockerfile builds quench without cgo and runs it on distroless/static as non-root.
func TestDockerfileIsStaticDistrolessNonRoot(t *testing.T) {
	ins := dockerfile(t)
	last := -1
	for i, in := range ins {
		if in[0] == "FROM" {
			last = i
		}
	}
	if last < 1 {
		t.Fatal("Dockerfile: want a build stage and a final stage")
	}
	final := strings.Fields(ins[last][1])[0]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage is %s, want distroless/static or scratch", final)
	}
	var user, entrypoint string
	for _, in := range ins[last:] {
		switch in[0] {
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u != "nonroot" && u != "65532" {
		t.Errorf("final stage USER is %q, want nonroot", user)
	}
	if entrypoint != `["/quench"]` {
		t.Errorf("ENTRYPOINT is %s, want [\"/quench\"]: the manifests give the subcommand as args", entrypoint)
	}
	var build string
	for _, in := range ins[:last] {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			build = in[1]
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/quench") {
		t.Errorf("build step %q: want CGO_ENABLED=0 go build ./cmd/quench", build)
	}
	// The builder's Go is go.mod's; the binary needs no cgo (SQLite is modernc.org, pure Go).
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.Contains(ins[0][1], "golang:"+string(goVersion[1])) {
		t.Errorf("builder %q is not golang:<go.mod's go version>", ins[0][1])
	}
	for _, cgo := range []string{"github.com/mattn/go-sqlite3", "github.com/confluentinc/"} {
		if strings.Contains(string(gomod), cgo) {
			t.Errorf("go.mod requires %s, which needs cgo: CGO_ENABLED=0 would break it", cgo)
		}
	}
	cfg := deployConfig(t)
	for _, in := range ins[last:] {
		if in[0] == "WORKDIR" && in[1] != cfg.DataDir {
			t.Errorf("WORKDIR %s is not data_dir %s", in[1], cfg.DataDir)
		}
	}
}
