package mapaudit

// postings maps keys to the accounts that hold them. Almost every key
// belongs to one account, so that account is kept in the map itself and
// only keys of several accounts get a list: an index of 100,000 accounts
// then costs no allocation per key and gives the collector less to scan.
// The zero value is empty and ready to read; use newPostings to add.
type postings[K comparable] struct {
	// m holds an account index (>= 0), or -(n+1) for lists[n].
	m     map[K]int32
	lists [][]int32
}

func newPostings[K comparable](size int) postings[K] {
	return postings[K]{m: make(map[K]int32, size)}
}

// add records account i under k; adding the last account again is a no-op.
func (p *postings[K]) add(k K, i int32) {
	v, ok := p.m[k]
	switch {
	case !ok:
		p.m[k] = i
	case v >= 0:
		if v != i {
			p.lists = append(p.lists, []int32{v, i})
			p.m[k] = -int32(len(p.lists))
		}
	default:
		if l := p.lists[-v-1]; l[len(l)-1] != i {
			p.lists[-v-1] = append(l, i)
		}
	}
}

// get returns the accounts under k, using one for a single account.
func (p *postings[K]) get(k K, one *[1]int32) []int32 {
	v, ok := p.m[k]
	switch {
	case !ok:
		return nil
	case v >= 0:
		one[0] = v
		return one[:]
	}
	return p.lists[-v-1]
}

// shared calls fn with each key held by two accounts or more.
func (p *postings[K]) shared(fn func(K, []int32)) {
	for k, v := range p.m {
		if v < 0 {
			fn(k, p.lists[-v-1])
		}
	}
}
