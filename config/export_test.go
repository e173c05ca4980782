package config

// What the tests of package config_test reach inside config: compiled into
// the tests only.
var (
	CheckJoin          = checkJoin
	CountYAMLInstances = countYAMLInstances
)

// SetCloudSource records that c's key was written at at, as loading a file
// that writes it there would.
func SetCloudSource(c *Cloud, key string, at Pos) { c.src.Set(key, at, "") }

// OrderPos returns where inst's order is written.
func OrderPos(inst *Instance) Pos {
	pos, _ := inst.src.more.at("order", Pos{})
	return pos
}
