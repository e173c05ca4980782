package lab

// Switch is an L2 segment: a bridge named BridgeName in a namespace of its
// own. Nodes are cabled to it with Lab.Connect.
type Switch struct {
	node *Node
}

// Name returns the full name of the switch's namespace.
func (s *Switch) Name() string { return s.node.name }

// Node returns the namespace that hosts the bridge, to run commands there or
// to capture every frame of the segment on BridgeName. Do not give it
// addresses: the switch is meant to stay silent.
func (s *Switch) Node() *Node { return s.node }
