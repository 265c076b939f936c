package bundle

// Record is the request as a Record, as the builder counts it: a source that converts its
// data into Requests can tally them (Tally) the same way.
func (r Request) Record() Record { return r.toRecord() }
