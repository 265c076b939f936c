package bench

// BenchRunbook answers the alerts the ingest benchmark sends: it waits for its group to
// resolve and does nothing else, so the benchmark measures ingestion, not actions.
const BenchRunbook = `name: bench-storm
title: quench bench - one incident per alert group
description: Waits for the alert group to resolve. quench bench ingest and the storm test use it.
severity: warning
triggers:
  alerts:
    - match:
        alertname: QuenchBenchStorm
steps:
  - id: recovered
    title: Wait for the group to resolve
    action: wait.resolved
    timeout: 1h
`

// BenchAlertname is the alertname BenchRunbook answers.
const BenchAlertname = "QuenchBenchStorm"
