// Package temporalsetup prepares a Temporal namespace for quench: the namespace itself and
// quench's custom search attributes. `quench setup`, `quench worker --setup` and the
// embedded dev server all take the list from here. It links the Temporal client only,
// never the server.
package temporalsetup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quench-dev/quench/workflows"
)

// SearchAttributes are quench's custom search attributes and their types (all Keyword).
func SearchAttributes() map[string]enumspb.IndexedValueType {
	out := make(map[string]enumspb.IndexedValueType, len(workflows.SearchAttributes))
	for _, name := range workflows.SearchAttributes {
		out[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	return out
}

// Results of an Action.
const (
	Created         = "created"          // setup made it
	Present         = "present"          // it was there already, as quench needs it
	Missing         = "missing"          // a check (DryRun) found it absent
	LacksPermission = "lacks_permission" // the caller may not create it
)

// Kinds of an Action.
const (
	KindNamespace       = "namespace"
	KindSearchAttribute = "search_attribute"
)

// Action is one thing setup looked at and what it did about it.
type Action struct {
	Kind   string `json:"kind"` // namespace, search_attribute or route
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"` // a search attribute's type, e.g. Keyword
	Result string `json:"result"`
	// Detail: the namespace's retention, or the permission that was lacking.
	Detail string `json:"detail,omitempty"`
}

// String is the action in words, as `quench setup` prints it.
func (a Action) String() string {
	if a.Kind == KindRoute {
		return a.routeString()
	}
	what := a.Kind + " " + a.Name
	if a.Kind == KindSearchAttribute {
		what = fmt.Sprintf("search attribute %s (%s)", a.Name, a.Type)
	}
	switch a.Result {
	case Created:
		s := "created " + what
		if a.Detail != "" {
			s += " (" + a.Detail + ")"
		}
		return s
	case Present:
		s := what + " already present"
		if a.Detail != "" {
			s += " (" + a.Detail + ")"
		}
		return s
	case Missing:
		return what + " missing"
	case LacksPermission:
		return "lacks permission: " + a.Detail
	}
	return what + ": " + a.Result
}

// Report is what a setup run found and did.
type Report struct {
	Address   string   `json:"address"`
	Namespace string   `json:"namespace"`
	Actions   []Action `json:"actions"`
	// Changed: something was created. A second run reports false.
	Changed bool `json:"changed"`
	// Ready: the namespace and every search attribute are in place (and, for a dry run,
	// the configured routes).
	Ready bool `json:"ready"`
}

func (r *Report) add(a Action) {
	r.Actions = append(r.Actions, a)
	if a.Result == Created {
		r.Changed = true
	}
}

// Options of Ensure.
type Options struct {
	Namespace string
	// Address is only reported.
	Address string
	// Retention of a namespace Ensure registers; an existing namespace keeps its own.
	Retention time.Duration
	// DryRun looks without changing anything: what is absent is reported Missing.
	DryRun bool
	// Wait bounds how long Ensure waits for new search attributes to become usable
	// (the frontend's namespace cache refreshes every few seconds); default 30 s.
	Wait time.Duration
}

// ErrNamespaceNotFound is returned (wrapped) by Ensure with DryRun when the namespace is
// not registered.
var ErrNamespaceNotFound = errors.New("namespace not registered")

// Ensure registers the namespace when it is missing and adds quench's search attributes
// that are missing. It is idempotent: a second run creates nothing and says so. The
// report is returned with the error too, so the caller can show what was done before it.
// A search attribute present with another type is an error naming it; a refused call is
// a LacksPermission action and an error saying what to ask for.
func Ensure(ctx context.Context, c client.Client, opts Options) (*Report, error) {
	rep := &Report{Address: opts.Address, Namespace: opts.Namespace, Actions: []Action{}}
	if opts.Namespace == "" {
		return rep, errors.New("no namespace given: set --namespace, TEMPORAL_NAMESPACE or temporal.namespace")
	}
	if err := ensureNamespace(ctx, c, opts, rep); err != nil {
		return rep, err
	}
	if err := ensureSearchAttributes(ctx, c, opts, rep); err != nil {
		return rep, err
	}
	rep.Ready = !slices.ContainsFunc(rep.Actions, func(a Action) bool { return a.Result != Created && a.Result != Present })
	return rep, nil
}

func ensureNamespace(ctx context.Context, c client.Client, opts Options, rep *Report) error {
	ns := opts.Namespace
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err == nil {
		rep.add(Action{Kind: KindNamespace, Name: ns, Result: Present,
			Detail: "retention " + desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration().String()})
		return nil
	}
	var notFound *serviceerror.NamespaceNotFound
	if !errors.As(err, &notFound) && !isNotFound(err) {
		if isPermissionDenied(err) {
			rep.add(Action{Kind: KindNamespace, Name: ns, Result: LacksPermission,
				Detail: fmt.Sprintf("describe namespace %s (WorkflowService/DescribeNamespace)", ns)})
			return fmt.Errorf("lacks permission to describe namespace %q: %w (give this identity read access to the namespace)", ns, err)
		}
		return fmt.Errorf("cannot describe namespace %q: %w", ns, err)
	}
	if opts.DryRun {
		rep.add(Action{Kind: KindNamespace, Name: ns, Result: Missing})
		return fmt.Errorf("namespace %q: %w", ns, ErrNamespaceNotFound)
	}
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		Description:                      "quench incidents",
		WorkflowExecutionRetentionPeriod: durationpb.New(opts.Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	switch {
	case err == nil:
		rep.add(Action{Kind: KindNamespace, Name: ns, Result: Created, Detail: "retention " + opts.Retention.String()})
		return nil
	case errors.As(err, &exists):
		// Another setup got there between our describe and register.
		rep.add(Action{Kind: KindNamespace, Name: ns, Result: Present})
		return nil
	case isPermissionDenied(err):
		rep.add(Action{Kind: KindNamespace, Name: ns, Result: LacksPermission,
			Detail: fmt.Sprintf("register namespace %s (WorkflowService/RegisterNamespace)", ns)})
		return fmt.Errorf("lacks permission to register namespace %q: %w (ask a Temporal admin to run `quench setup`, or `temporal operator namespace create %s`)", ns, err, ns)
	}
	return fmt.Errorf("cannot register namespace %q: %w", ns, err)
}

func ensureSearchAttributes(ctx context.Context, c client.Client, opts Options, rep *Report) error {
	ns := opts.Namespace
	want := SearchAttributes()
	listed, err := listSearchAttributes(ctx, c, ns, opts.wait())
	if err != nil {
		if isPermissionDenied(err) {
			rep.add(Action{Kind: KindSearchAttribute, Name: "*", Result: LacksPermission,
				Detail: fmt.Sprintf("list the search attributes of namespace %s (OperatorService/ListSearchAttributes)", ns)})
			return fmt.Errorf("lacks permission to list the search attributes of namespace %q: %w (ask a Temporal admin to run `quench setup`)", ns, err)
		}
		return fmt.Errorf("cannot list the search attributes of namespace %q: %w", ns, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var wrong []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		typ := want[name]
		have, custom := listed.GetCustomAttributes()[name]
		if !custom {
			if sys, ok := listed.GetSystemAttributes()[name]; ok {
				have, custom = sys, true
			}
		}
		switch {
		case !custom:
			missing[name] = typ
		case have != typ:
			wrong = append(wrong, fmt.Sprintf("%s is %s, quench needs %s", name, typeName(have), typeName(typ)))
		default:
			rep.add(Action{Kind: KindSearchAttribute, Name: name, Type: typeName(typ), Result: Present})
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("namespace %q has search attributes of the wrong type: %s. A search attribute's type cannot be changed in place: remove it (temporal operator search-attribute remove) if nothing uses it, or give quench another namespace",
			ns, strings.Join(wrong, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(missing))
	if opts.DryRun {
		for _, name := range names {
			rep.add(Action{Kind: KindSearchAttribute, Name: name, Type: typeName(missing[name]), Result: Missing})
		}
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        ns,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		if isPermissionDenied(err) {
			rep.add(Action{Kind: KindSearchAttribute, Name: strings.Join(names, ","), Type: "Keyword", Result: LacksPermission,
				Detail: fmt.Sprintf("add search attributes %s to namespace %s (OperatorService/AddSearchAttributes)", strings.Join(names, ", "), ns)})
			return fmt.Errorf("lacks permission to add search attributes %s to namespace %q: %w (ask a Temporal admin to run `quench setup`, or to add them as Keyword)", strings.Join(names, ", "), ns, err)
		}
		return fmt.Errorf("cannot add search attributes %s to namespace %q: %w", strings.Join(names, ", "), ns, err)
	}
	for _, name := range names {
		rep.add(Action{Kind: KindSearchAttribute, Name: name, Type: typeName(missing[name]), Result: Created})
	}
	waitCtx, cancel := context.WithTimeout(ctx, opts.wait())
	defer cancel()
	return awaitSearchAttributes(waitCtx, c, ns, names)
}

func (o Options) wait() time.Duration {
	if o.Wait <= 0 {
		return 30 * time.Second
	}
	return o.Wait
}

// listSearchAttributes lists them, waiting while the frontend's namespace cache does not
// know a namespace registered a moment ago (the operator service reads through it).
func listSearchAttributes(ctx context.Context, c client.Client, ns string, wait time.Duration) (*operatorservice.ListSearchAttributesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		var notFound *serviceerror.NamespaceNotFound
		if err == nil || (!errors.As(err, &notFound) && !isNotFound(err)) {
			return listed, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (the namespace is registered but the frontend does not know it yet: run `quench setup` again in a minute)", err)
		case <-tick.C:
		}
	}
}

// awaitSearchAttributes waits until the frontend's namespace cache knows the new
// attributes; until then a workflow start that sets them is rejected. On SQL visibility a
// custom search attribute is an alias stored on the namespace record, which a strongly
// consistent describe shows at once; Elasticsearch keeps them cluster-wide, without
// aliases, and there is nothing to wait for.
func awaitSearchAttributes(ctx context.Context, c client.Client, ns string, names []string) error {
	stored, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("cannot describe namespace %q after adding search attributes: %w", ns, err)
	}
	if len(stored.GetConfig().GetCustomSearchAttributeAliases()) == 0 {
		return nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       ns,
			WeakConsistency: true, // served from the cache, which is what we wait for
		})
		if err == nil && knowsAll(desc, names) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes %s were added to namespace %q but are not usable yet: %w (run `quench setup` again in a minute)", strings.Join(names, ", "), ns, ctx.Err())
		case <-tick.C:
		}
	}
}

func knowsAll(desc *workflowservice.DescribeNamespaceResponse, names []string) bool {
	known := map[string]bool{}
	for _, alias := range desc.GetConfig().GetCustomSearchAttributeAliases() {
		known[alias] = true
	}
	return !slices.ContainsFunc(names, func(n string) bool { return !known[n] })
}

func typeName(t enumspb.IndexedValueType) string {
	// "INDEXED_VALUE_TYPE_KEYWORD" -> "Keyword", as the Temporal CLI shows it.
	s := strings.TrimPrefix(t.String(), "INDEXED_VALUE_TYPE_")
	parts := strings.Split(strings.ToLower(s), "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

func isPermissionDenied(err error) bool {
	var denied *serviceerror.PermissionDenied
	return errors.As(err, &denied)
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
