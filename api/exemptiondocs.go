package api

import (
	"crypto/sha256"
	"sync"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// exemptionDocs keeps exemption documents rendered per api-version and
// read for their status, so that a GET or a list page does not parse and
// render each stored document again (that was a third of a GET's CPU).
// An entry is keyed by the stored body's SHA-256 with the id, name and
// api-version: a pure function of its key, so it is never stale and the
// cache can be shared by every Server of the process. It holds at most
// exemptionDocsMax entries; when full, an arbitrary one makes room.
var exemptionDocs = struct {
	sync.Mutex
	m map[exemptionDocKey]*exemption.Prepared
}{m: map[exemptionDocKey]*exemption.Prepared{}}

const exemptionDocsMax = 8192

type exemptionDocKey struct {
	sum                  [sha256.Size]byte
	id, name, apiVersion string
}

// exemptionDoc renders a stored exemption in the shape of the call's
// api-version, with posture's status of it.
func (c *call) exemptionDoc(r *posture.Resource) ([]byte, error) {
	k := exemptionDocKey{sum: sha256.Sum256(r.Body), id: r.ID, name: r.Name, apiVersion: c.apiVersion}
	exemptionDocs.Lock()
	p := exemptionDocs.m[k]
	exemptionDocs.Unlock()
	if p == nil {
		x, sd, err := exemption.FromDocument(r.Body)
		if err != nil {
			return nil, err
		}
		p = exemption.Prepare(exemption.Document(r.ID, r.Name, x, sd, c.apiVersion))
		exemptionDocs.Lock()
		if len(exemptionDocs.m) >= exemptionDocsMax {
			for old := range exemptionDocs.m {
				delete(exemptionDocs.m, old)
				break
			}
		}
		exemptionDocs.m[k] = p
		exemptionDocs.Unlock()
	}
	return p.At(c.s.Now()), nil
}
