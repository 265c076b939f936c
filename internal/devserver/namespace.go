package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/config"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quench-dev/quench/internal/temporalsetup"
)

// searchAttributes are quench's custom search attributes; `quench setup` registers the
// same list on a cluster.
func searchAttributes() map[string]enumspb.IndexedValueType {
	return temporalsetup.SearchAttributes()
}

// prepareDatabase creates the schema when the file is new and the namespace when it is
// missing, both before the server starts, so the namespace (with its search attributes
// and retention) exists the moment the frontend answers.
func prepareDatabase(sql *config.SQL, namespace string, retention time.Duration) error {
	dbPath := sql.DatabaseName
	_, err := os.Stat(dbPath)
	isNew := errors.Is(err, fs.ErrNotExist)
	if err != nil && !isNew {
		return fmt.Errorf("cannot read the database %s: %w", dbPath, err)
	}
	if isNew {
		if err := sqliteschema.SetupSchema(sql); err != nil {
			// A half-made schema would be taken for a good one on the next start.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(dbPath + suffix)
			}
			return fmt.Errorf("cannot create the Temporal schema in %s: %w", dbPath, err)
		}
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, searchAttributes())
	if err != nil {
		return fmt.Errorf("cannot describe namespace %q: %w", namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(retention)
	if err := sqliteschema.CreateNamespaces(sql, ns); err != nil {
		return fmt.Errorf("cannot create namespace %q in %s: %w", namespace, dbPath, err)
	}
	return nil
}

// ensureNamespace brings a namespace that already existed up to date: retention from the
// options, quench's search attributes registered. Both are no-ops on a fresh database.
func ensureNamespace(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("cannot describe namespace %q: %w", namespace, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != retention {
		_, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: namespace,
			Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
		})
		if err != nil {
			return fmt.Errorf("cannot set the retention of namespace %q to %s: %w", namespace, retention, err)
		}
	}
	return registerSearchAttributes(ctx, c, namespace)
}

// registerSearchAttributes adds the missing ones. On SQL visibility a custom search
// attribute is an alias, stored on the namespace, for one of the pre-allocated columns
// (Keyword01..Keyword10); the server picks a free column.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := searchAttributes()
	listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("cannot list the search attributes of namespace %q: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		have, ok := listed.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			return fmt.Errorf("search attribute %s exists in namespace %q as %s, quench needs %s: use another namespace",
				name, namespace, have, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("cannot add search attributes %v to namespace %q: %w",
			slices.Sorted(maps.Keys(missing)), namespace, err)
	}
	return awaitSearchAttributes(ctx, c, namespace, slices.Collect(maps.Keys(missing)))
}

// awaitSearchAttributes waits until the frontend's namespace cache (refreshed every few
// seconds) knows the new aliases; until then a start with them is rejected.
func awaitSearchAttributes(ctx context.Context, c client.Client, namespace string, names []string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       namespace,
			WeakConsistency: true, // served from the cache, which is what we wait for
		})
		if err == nil {
			known := map[string]bool{}
			for _, alias := range desc.GetConfig().GetCustomSearchAttributeAliases() {
				known[alias] = true
			}
			if !slices.ContainsFunc(names, func(n string) bool { return !known[n] }) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes %v not visible in namespace %q: %w", names, namespace, ctx.Err())
		case <-tick.C:
		}
	}
}
