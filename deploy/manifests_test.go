package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// container is one container of the deploy files, in the words both formats share.
type container struct {
	Where                   string // file and object, for messages
	Image                   string
	Args                    []string          // quench's command line (entrypoint is /quench)
	Env                     map[string]string // name -> literal value ("" when from a secret)
	Secret                  map[string]bool   // names whose value comes from a Secret (k8s) or .env (compose)
	Ports                   []int             // container ports
	Mounts                  map[string]string // mount path -> volume name ("" for an anonymous volume)
	Probes                  map[string]probe  // readinessProbe, livenessProbe
	ReadOnlyRoot, NoPrivEsc bool
	Pod                     map[string]any // the pod spec (k8s only)
	Volumes                 map[string]map[string]any
}

type probe struct {
	Path string
	Port any // number or port name
	Kind string
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func m(v any) map[string]any { x, _ := v.(map[string]any); return x }
func l(v any) []any          { x, _ := v.([]any); return x }
func s(v any) string         { x, _ := v.(string); return x }

func strs(v any) []string {
	var out []string
	for _, x := range l(v) {
		out = append(out, s(x))
	}
	return out
}

// k8sFiles are the manifests in k8s/ (kustomization.yaml aside).
func k8sFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no manifests in k8s/")
	}
	return out
}

// k8sObjects are every object of every manifest.
func k8sObjects(t *testing.T) []map[string]any {
	var all []map[string]any
	for _, f := range k8sFiles(t) {
		for _, d := range readYAMLDocs(t, f) {
			d["_file"] = f
			all = append(all, d)
		}
	}
	return all
}

func podSpec(obj map[string]any) map[string]any {
	return m(m(m(obj["spec"])["template"])["spec"])
}

func k8sContainers(t *testing.T) []container {
	var out []container
	for _, obj := range k8sObjects(t) {
		pod := podSpec(obj)
		if pod == nil {
			continue
		}
		vols := map[string]map[string]any{}
		for _, v := range l(pod["volumes"]) {
			vols[s(m(v)["name"])] = m(v)
		}
		for _, key := range []string{"initContainers", "containers"} {
			for _, c := range l(pod[key]) {
				c := m(c)
				ct := container{
					Where: s(obj["_file"]) + " " + s(obj["kind"]) + "/" + s(m(obj["metadata"])["name"]) + " container " + s(c["name"]),
					Image: s(c["image"]), Args: append(strs(c["command"]), strs(c["args"])...),
					Env: map[string]string{}, Secret: map[string]bool{}, Mounts: map[string]string{},
					Probes: map[string]probe{}, Pod: pod, Volumes: vols,
				}
				for _, e := range l(c["env"]) {
					name := s(m(e)["name"])
					ct.Env[name] = s(m(e)["value"])
					if m(m(e)["valueFrom"])["secretKeyRef"] != nil {
						ct.Secret[name] = true
					}
				}
				for _, p := range l(c["ports"]) {
					if n, ok := m(p)["containerPort"].(int); ok {
						ct.Ports = append(ct.Ports, n)
					}
				}
				for _, vm := range l(c["volumeMounts"]) {
					ct.Mounts[s(m(vm)["mountPath"])] = s(m(vm)["name"])
				}
				for _, name := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
					p := m(c[name])
					if p == nil {
						continue
					}
					switch {
					case p["httpGet"] != nil:
						ct.Probes[name] = probe{Kind: "http", Path: s(m(p["httpGet"])["path"]), Port: m(p["httpGet"])["port"]}
					case p["tcpSocket"] != nil:
						ct.Probes[name] = probe{Kind: "tcp", Port: m(p["tcpSocket"])["port"]}
					default:
						ct.Probes[name] = probe{Kind: "exec"}
					}
				}
				sc := m(c["securityContext"])
				ct.ReadOnlyRoot, _ = sc["readOnlyRootFilesystem"].(bool)
				priv, set := sc["allowPrivilegeEscalation"].(bool)
				ct.NoPrivEsc = set && !priv
				out = append(out, ct)
			}
		}
	}
	return out
}

// composeFile is docker-compose.yaml, with YAML anchors and merge keys resolved.
func composeFile(t *testing.T) map[string]any {
	docs := readYAMLDocs(t, "docker-compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yaml: %d documents, want 1", len(docs))
	}
	return docs[0]
}

func composeContainers(t *testing.T) []container {
	var out []container
	services := m(composeFile(t)["services"])
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		svc := m(services[name])
		ct := container{
			Where: "docker-compose.yaml service " + name, Image: s(svc["image"]),
			Args: strs(svc["command"]), Env: map[string]string{}, Secret: map[string]bool{},
			Mounts: map[string]string{}, Probes: map[string]probe{},
		}
		for k, v := range m(svc["environment"]) {
			val := s(v)
			ct.Env[k] = val
			if strings.HasPrefix(val, "${") {
				ct.Secret[k] = true
			}
		}
		for _, v := range strs(svc["volumes"]) {
			parts := strings.Split(v, ":")
			if len(parts) == 1 {
				ct.Mounts[parts[0]] = ""
			} else {
				ct.Mounts[parts[1]] = parts[0]
			}
		}
		ct.ReadOnlyRoot, _ = svc["read_only"].(bool)
		ct.NoPrivEsc = true // checked on k8s only: compose has no such default to rely on
		out = append(out, ct)
	}
	return out
}

// composePorts are a service's published ports as container ports.
func composePorts(t *testing.T, service string) []string {
	var out []string
	for _, p := range strs(m(m(composeFile(t)["services"])[service])["ports"]) {
		parts := strings.Split(p, ":")
		out = append(out, parts[len(parts)-1])
	}
	return out
}

// dockerfile is the Dockerfile as instructions (continuation lines joined).
func dockerfile(t *testing.T) [][2]string {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		op, rest, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(rest)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// isQuench says whether a container runs the quench image (built from deploy/Dockerfile).
func isQuench(image string) bool {
	name, _, _ := strings.Cut(image, ":")
	return name == "quench" || strings.HasSuffix(name, "/quench")
}
