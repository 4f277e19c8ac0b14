package hub

// SetCompactStep sets the entries one compaction transaction deletes, for a
// test, and returns what puts it back.
func SetCompactStep(n int64) (restore func()) {
	old := compactStep
	compactStep = n
	return func() { compactStep = old }
}
