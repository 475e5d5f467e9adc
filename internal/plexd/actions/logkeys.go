package actions

// Log keys of this package that internal/plexd/logkey does not have yet
// (snake_case constants, never literals, as logkey's test demands).
const (
	keyExecutionID = "execution_id"
	keyAction      = "action"
	keyStatus      = "status"
	keyExitCode    = "exit_code"
	keyPath        = "path"
	keyHooks       = "hooks"
)
