package mapping

// RenderedCandidates returns the candidates of c (see Candidates), rendered
// once and kept: an audit classifies an account's stored values against
// them and Decide compares them again. The slice is shared: treat it as
// read-only. It writes c the first time (for a certificate from a Parser
// with DeferCandidates, or built by hand): call it before sharing c between
// goroutines.
func (c *Certificate) RenderedCandidates() []Candidate {
	if c.cands == nil {
		c.cands = Candidates(c)
	}
	return c.cands
}
