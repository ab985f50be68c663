package main

// ExemptionExplainCmd is `posture exemption explain`: why an exemption does
// or does not cover a resource.
type ExemptionExplainCmd struct{}

func (ExemptionExplainCmd) Run() error { return errNotYet }
