package devserver

import (
	"net"
	"strconv"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
)

const (
	clusterName = "active"
	// clusterID is fixed so every start on the same file is the same cluster. (The server
	// keeps the ID of the first start in the database anyway; this makes it predictable.)
	clusterID = "8d1a6f5e-7c1b-4d0e-9a57-51e3c4b0f7a2"
	storeName = "sqlite"
)

// servicePorts are the gRPC ports of the four services. Only the frontend is for clients.
type servicePorts struct {
	frontend, history, matching, worker int
}

// sqlConfig is the one store behind persistence and visibility. One connection: SQLite
// has a single writer, and more connections halved throughput when measured.
func sqlConfig(dbPath string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
		},
		MaxConns:     1,
		MaxIdleConns: 1,
	}
}

// serverConfig is the static configuration of a single-process server on SQLite.
func serverConfig(sql *config.SQL, bindIP, dialIP string, ports servicePorts) *config.Config {
	frontendAddr := net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend))
	internal := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: "127.0.0.1"}}
	}

	var cfg config.Config
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = "127.0.0.1"
	cfg.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  storeName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{storeName: {SQL: sql}},
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				ClusterID:              clusterID,
			},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: ports.frontend, BindOnIP: bindIP}},
		string(primitives.HistoryService):  internal(ports.history),
		string(primitives.MatchingService): internal(ports.matching),
		string(primitives.WorkerService):   internal(ports.worker),
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The worker service's own SDK client dials this.
	cfg.PublicClient.HostPort = frontendAddr
	return &cfg
}

// staticHosts replaces ringpop membership: each service is one known address.
func staticHosts(dialIP string, ports servicePorts) map[primitives.ServiceName]static.Hosts {
	local := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	return map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend))),
		primitives.HistoryService:  local(ports.history),
		primitives.MatchingService: local(ports.matching),
		primitives.WorkerService:   local(ports.worker),
	}
}

// dynamicConfig tunes the server for latency on one machine with one shard.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// The history queues poll persistence at most 20 times a second by default, which
		// adds ~50 ms to a step whenever tasks arrive in bursts. One shard on a local file
		// can afford far more.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): 1000,
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():   1000,
		// A query that misses the sticky worker falls back to the task queue and fails with
		// "no poller seen" when no poll *started* there in this window; a worker whose poll
		// has been parked longer (an incident idling in a wait or a verify) counts as gone at
		// 20 s. Longer than a long poll, so a live worker is always seen.
		dynamicconfig.QueryPollerUnavailableWindow.Key(): 2 * time.Minute,
		// One partition per task queue: with the default four, a task can land on a
		// partition no poller is waiting on and must be forwarded first.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// Eager workflow start: a start that asks for it (client.StartWorkflowOptions.
		// EnableEagerStart, set by incidents.Service and by ingest's first commit of a group)
		// gets the first workflow task back on its answer when a worker shares its client, as
		// in quench dev. Eager activities: activities scheduled by a workflow task come back on
		// its completion's answer. Both are the server's defaults today; pinned because alert
		// -> first mitigation depends on them (quench bench latency measures it).
		dynamicconfig.EnableEagerWorkflowStart.Key():     true,
		dynamicconfig.EnableActivityEagerExecution.Key(): true,
		// Mutable states kept in memory: the default (128,000, for a host serving many
		// shards of a cluster) keeps every running workflow of a single-node server for the
		// cache's hour, ~14 KiB each for a waiting incident. 512 holds a burst of outages and
		// the workflows acted on recently; an evicted one is read back from SQLite (its
		// execution row) on its next task, about a millisecond. Entries in use are pinned, so
		// it must stay well above the requests in flight at once (ingest sends 64).
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 512,
		// Approvals are workflow updates.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		// The Web UI and `quench incident list` list through visibility; 10/s (the default)
		// throttles a UI page that refreshes counts.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
}
