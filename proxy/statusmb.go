package proxy

// MiddleboxStatus is the status of an `i3net middlebox` (package middlebox),
// which answers on its control socket with a Status whose Middlebox is set
// (and no peers): "i3net status" reads both roles alike.
type MiddleboxStatus struct {
	// Anycast is the member's name in a group sharing one identity; Member
	// the last byte of its triggers.
	Anycast string `json:"anycast,omitempty"`
	Member  int    `json:"member"`
	// IDSTun is the tun device the IDS reads ("" without an IDS); EveJSON the
	// IDS's event log followed for alerts ("" without alerts).
	IDSTun  string `json:"ids_tun,omitempty"`
	EveJSON string `json:"eve_json,omitempty"`
	// Flows is how many address pairs the middlebox remembers the host of.
	Flows int `json:"flows"`
	// Hosts are the hosts that impose this middlebox, in the file's order.
	Hosts []MiddleboxHostStatus `json:"hosts"`
}

// MiddleboxHostStatus is one host a middlebox serves.
type MiddleboxHostStatus struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	// ID is the host's public id (where alerts go); Trigger the id of the
	// trigger the middlebox holds for it.
	ID      string `json:"id"`
	Trigger string `json:"trigger"`
	// State is the trigger's: "inserting", "active" or "lapsed".
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Counters: forwarded, forwarded_bytes, to_ids, alerts_sent.
	Counters map[string]uint64 `json:"counters"`
}
