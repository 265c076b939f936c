package cluster

import "testing"

func TestClusterSmoke(t *testing.T) {
	c := newCluster(t)
	c.startWorker("worker-a")
	c.startWorker("worker-b")
	a := c.startServer("server-a")
	var routes any
	a.mustCall(t, "GET", "/v1/routes", "", nil, 200, &routes)
	t.Logf("routes: %v", routes)
}
