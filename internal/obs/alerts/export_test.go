package alerts

// WebhookClient is the default webhook client (tests).
var WebhookClient = guardedClient
