// Command sdkonly is the floor BenchmarkCLIAgainstSDKOnly compares the quench CLI with: a
// program that links the Temporal SDK and nothing of quench, dials as any SDK program does
// and makes the one Temporal call behind an `incident` command, then exits.
//
//	sdkonly -address HOST:PORT list
//	sdkonly -address HOST:PORT query WORKFLOW_ID          (incident show's status query)
//	sdkonly -address HOST:PORT start WORKFLOW_ID          (a start, on a queue nobody polls)
//	sdkonly -address HOST:PORT update WORKFLOW_ID STEP    (incident approve's decide update)
//
// The update carries no signed proof, so the incident refuses it and says so on its
// timeline: the same round trip through the workflow as an approval, without deciding.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

func main() {
	address := flag.String("address", "127.0.0.1:7233", "Temporal frontend")
	namespace := flag.String("namespace", "default", "namespace")
	flag.Parse()
	if err := run(*address, *namespace, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "sdkonly:", err)
		os.Exit(1)
	}
}

func run(address, namespace string, args []string) error {
	if len(args) == 0 {
		return errors.New("want list, query ID, start ID or update ID STEP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: address, Namespace: namespace})
	if err != nil {
		return err
	}
	defer c.Close()
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch args[0] {
	case "list":
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace,
			Query: "WorkflowType = 'incident' AND ExecutionStatus = 'Running'", PageSize: 30})
		if err != nil {
			return err
		}
		fmt.Println(len(resp.GetExecutions()), "running")
	case "query":
		v, err := c.QueryWorkflow(ctx, arg(1), "", "status")
		if err != nil {
			return err
		}
		var st map[string]any
		if err := v.Get(&st); err != nil {
			return err
		}
		fmt.Println(st["state"])
	case "start":
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: arg(1), TaskQueue: "sdkonly-unpolled"}, "sdkonly-bare")
		if err != nil {
			return err
		}
		fmt.Println(run.GetRunID())
	case "update":
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: arg(1), UpdateName: "decide",
			Args:         []any{map[string]string{"step_id": arg(2), "verdict": "approve", "approver": "cli:sdkonly"}},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		var app *temporal.ApplicationError
		if err != nil && !errors.As(err, &app) { // the incident's refusal is the expected answer
			return err
		}
		fmt.Println("decided:", err)
	default:
		return fmt.Errorf("unknown call %q", args[0])
	}
	return nil
}
