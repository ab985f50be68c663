// Package drift watches what an exemption was approved for.
//
// When an exemption is approved, posture takes a Fingerprint of the
// resource fields the recommendation's rule reads (Fields, Take). When a
// later document of the resource reads differently, Changed says which
// field changed and how, and the exemption goes back to review: whoever
// approved it saw another resource. Fields the rule does not read (tags,
// timestamps, unrelated properties) never trigger a review.
//
// A Mitigated exemption may also carry Evidence: an Azure Policy
// if-condition that must keep holding for the resource (for example
// "networkAcls.defaultAction equals Deny" for a storage account exempted
// from a public-access recommendation because its firewall mitigates it).
//
// Fingerprints are stored, so their canonical form is a contract: see
// Take.
package drift
