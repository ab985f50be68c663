package policy

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
)

// The shipped built-ins: MCSB v1, its 223 members, MCSB v2 and its extra
// members, copied byte-for-byte from Azure/azure-policy (builtin/SOURCE.md).
//
//go:embed builtin
var builtinFS embed.FS

// BuiltinFS returns the embedded built-in files in the official repository
// layout (built-in-policies/{policyDefinitions,policySetDefinitions}/...),
// for API reads of the original documents.
func BuiltinFS() fs.FS {
	sub, _ := fs.Sub(builtinFS, "builtin")
	return sub
}

// Well-known initiative ids.
const (
	MCSBv1ID = "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"
	MCSBv2ID = "/providers/Microsoft.Authorization/policySetDefinitions/e3ec7e09-768c-4b64-882c-fcada3772047"
)

var (
	builtinOnce sync.Once
	builtinReg  *Registry
	builtinErr  error
)

// Builtins returns a registry holding the embedded built-ins. The returned
// registry is shared; callers that add custom definitions should use
// NewBuiltinRegistry for a registry of their own.
func Builtins() (*Registry, error) {
	builtinOnce.Do(func() {
		builtinReg, builtinErr = NewBuiltinRegistry()
	})
	return builtinReg, builtinErr
}

// NewBuiltinRegistry parses the embedded built-ins into a new registry.
func NewBuiltinRegistry() (*Registry, error) {
	r := NewRegistry()
	if err := r.LoadFS(BuiltinFS(), "."); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadDir loads a directory in the official repository layout: either the
// repository root or its built-in-policies directory. This is what
// `--policies DIR` uses.
func (r *Registry) LoadDir(dir string) error {
	return r.LoadFS(os.DirFS(dir), ".")
}

// LoadFS loads every definition under root/[built-in-policies/]policyDefinitions
// and every initiative under .../policySetDefinitions. Files that fail to
// parse are reported together (wrapped with their path); the others are
// loaded. Definitions are loaded before initiatives, so initiatives are
// validated against them.
func (r *Registry) LoadFS(fsys fs.FS, root string) error {
	base := root
	if _, err := fs.Stat(fsys, path.Join(root, "built-in-policies")); err == nil {
		base = path.Join(root, "built-in-policies")
	}
	defFiles, err := jsonFiles(fsys, path.Join(base, "policyDefinitions"))
	if err != nil {
		return err
	}
	setFiles, err := jsonFiles(fsys, path.Join(base, "policySetDefinitions"))
	if err != nil {
		return err
	}
	if len(defFiles) == 0 && len(setFiles) == 0 {
		return fmt.Errorf("policy: no policyDefinitions or policySetDefinitions under %s", root)
	}
	var errs []error
	for _, f := range defFiles {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d, err := ParseDefinition(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		if d.ID == "" {
			d.Name = strings.TrimSuffix(path.Base(f), ".json")
			d.ID = BuiltinDefinitionID(d.Name)
		}
		_ = r.AddDefinition(d)
	}
	for _, f := range setFiles {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := ParseSetDefinition(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		if s.ID == "" {
			s.Name = strings.TrimSuffix(path.Base(f), ".json")
			s.ID = BuiltinSetDefinitionID(s.Name)
		}
		if err := r.ValidateSetDefinition(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		_ = r.AddSetDefinition(s)
	}
	return errors.Join(errs...)
}

func jsonFiles(fsys fs.FS, dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		if !d.IsDir() && strings.EqualFold(path.Ext(p), ".json") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
