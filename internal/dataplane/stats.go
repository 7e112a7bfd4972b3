package dataplane

import "time"

// Stats counts the outcome of one Apply, for metrics and status.
type Stats struct {
	// Routes is the number of wanted routes in the table.
	Routes int
	// RoutesSkipped counts workload routes waiting for their interface.
	RoutesSkipped int
	// Conflicts describe wanted routes left out because another owner's
	// routes hold their destination.
	Conflicts []string
	// Devices is the number of tunnel devices present and configured.
	Devices int
	// Neighbors and FDB are the static entries in place.
	Neighbors, FDB int
	// NATPools is the number of natOutgoing pool CIDRs programmed.
	NATPools int
	// SysctlDeferred is the number of workload interfaces whose settings
	// are still to be checked (see Dataplane.Apply).
	SysctlDeferred int
	// Changes is the number of kernel writes made (0 when all was right).
	Changes int
	// Errors is the number of parts that failed.
	Errors int
	// Duration is how long the Apply took.
	Duration time.Duration
}
