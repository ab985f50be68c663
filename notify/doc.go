// Package notify tells people about exemption requests and exemptions, and
// opens tickets for them.
//
// A Message describes one event (a request was made, approved, rejected or
// expired undecided; an exemption was created, is about to expire, or has
// expired) independently of where it goes. Renderers turn it into an e-mail
// (subject, plain text and HTML), a Microsoft Teams Adaptive Card, a Slack
// Block Kit message or a generic signed JSON webhook body. Channels deliver a
// Message (Channel.Send); ticket connectors open a Jira issue or a
// ServiceNow record for it and later comment on it (TicketConnector).
//
// Every delivery error is an *Error that says whether trying again can help
// (Retryable) and, when the server said so, how long to wait (RetryAfter), so
// a job queue can decide between a retry and a dead letter without knowing
// the channel. Errors never contain secrets: webhook URLs are cut to scheme
// and host, and passwords, tokens and keys are scrubbed from any text that
// reaches an error message.
//
// The package only sends. Approve, reject and renew links are signed and
// verified by the caller; this package places them where the recipient can
// click them.
package notify
