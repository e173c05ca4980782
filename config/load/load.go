// Package load reads a configuration file with the front end its name
// calls for: the native YAML format (config.ParseYAML) or keepalived.conf
// syntax (config/keepalived). It sits above both so that neither imports
// the other: config holds the model and the native format, keepalived
// fills the same model, and callers (the agent, vipd's commands, tests)
// load files through here.
package load

import (
	"path/filepath"
	"strings"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/keepalived"
)

// File reads the configuration at path: a name ending in .yaml or .yml is
// the native format, anything else keepalived.conf syntax (include
// directives resolved relative to the including file, as keepalived does).
// It returns either a validated Config whose Warnings list what was
// tolerated, or nil and a config.Diagnostics error listing every problem
// found (errors and warnings; its Error method prints the errors).
func File(path string, opts config.LoadOptions) (*config.Config, error) {
	data, err := config.ReadFileFS(opts.Files(), path)
	if err != nil {
		return nil, config.Diagnostics{{Pos: config.Pos{File: path}, Severity: config.SeverityError, Message: config.ErrorText(err)}}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return config.ParseYAML(path, data, opts)
	}
	return keepalived.Parse(path, data, opts)
}
