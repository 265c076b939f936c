package bundle

import "time"

// now is the fixed end of every test's incident window.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
