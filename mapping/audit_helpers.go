package mapping

// RenderedCandidates returns the candidates of c (see Candidates) as
// ParseCertificate rendered them, without rendering them again: an audit
// of many certificates compares each one's candidates with a directory
// index and classifies stored values against them. The slice is shared:
// treat it as read-only. For a Certificate not built by ParseCertificate it
// renders them.
func (c *Certificate) RenderedCandidates() []Candidate { return c.candidates() }
