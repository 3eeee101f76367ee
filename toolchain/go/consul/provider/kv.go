package provider

import (
	"fmt"
	"sort"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource type tokens, as @pulumi/consul 3.15.1 registers them.
const (
	keyPrefixType = "consul:index/keyPrefix:KeyPrefix"
	keysType      = "consul:index/keys:Keys"
)

type subkey struct {
	Path, Value string
	Flags       int
}

// --- consul:index/keyPrefix:KeyPrefix -------------------------------------------------------
//
// Manages every key under pathPrefix: `subkeys` (name -> value, flags 0) and
// `subkeyCollection` ({path, value, flags}), paths relative to the prefix. As upstream: create
// refuses a prefix that already holds keys, read reports every key under the prefix (so a key
// added behind Pulumi's back shows as drift), delete removes the whole prefix.

func init() {
	register(&spec{
		token:          keyPrefixType,
		inputs:         []string{"datacenter", "namespace", "partition", "pathPrefix", "subkeyCollection", "subkeys", "token"},
		forceNew:       map[string]bool{"datacenter": true, "namespace": true, "partition": true, "pathPrefix": true},
		computed:       map[string]bool{"datacenter": true},
		previewUnknown: []string{"datacenter"},
		check: func(_ string, news, _ resource.PropertyMap, fs *failures) {
			checkRequired(news, "pathPrefix", fs)
			checkStrings(news, fs, "datacenter", "namespace", "partition", "token")
			checkStringMap(news, "subkeys", fs)
			for i, o := range objects(news, "subkeyCollection", fs) {
				path := fmt.Sprintf("subkeyCollection[%d]", i)
				checkRequired(o, "path", fs)
				checkRequired(o, "value", fs)
				numberOf(o, "flags", path+".flags", 0, fs)
				if _, ok := o["flags"]; !ok {
					o["flags"] = resource.NewNumberProperty(0)
				}
			}
		},
		create: keyPrefixCreate,
		update: keyPrefixUpdate,
		read:   keyPrefixRead,
		delete: keyPrefixDelete,
		norm: func(k string, v any) any {
			if k != "subkeyCollection" {
				return v
			}
			return sortedObjects(v, map[string]any{"flags": float64(0)})
		},
	})
}

// sortedObjects applies defaults to a list of objects and sorts it (a set in upstream's schema).
func sortedObjects(v any, defaults map[string]any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			out = append(out, e)
			continue
		}
		c := map[string]any{}
		for k, d := range defaults {
			c[k] = d
		}
		for k, x := range m {
			if x != nil {
				c[k] = x
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

type keyPrefixInputs struct {
	Prefix  string
	Subkeys map[string]string
	Coll    []subkey
}

func parseKeyPrefix(m resource.PropertyMap) (keyPrefixInputs, error) {
	var fs failures
	in := keyPrefixInputs{Prefix: str(m, "pathPrefix"), Subkeys: mapOf(m, "subkeys")}
	for i, o := range objects(m, "subkeyCollection", &fs) {
		path := fmt.Sprintf("subkeyCollection[%d]", i)
		in.Coll = append(in.Coll, subkey{Path: strOf(o, "path", path+".path", &fs),
			Value: strOf(o, "value", path+".value", &fs), Flags: numberOf(o, "flags", path+".flags", 0, &fs)})
	}
	return in, fs.err()
}

// all returns every key the inputs manage, full path -> subkey, in a stable order.
func (in keyPrefixInputs) all() ([]string, map[string]subkey) {
	out := map[string]subkey{}
	for k, v := range in.Subkeys {
		out[in.Prefix+k] = subkey{Path: in.Prefix + k, Value: v}
	}
	for _, c := range in.Coll {
		out[in.Prefix+c.Path] = subkey{Path: in.Prefix + c.Path, Value: c.Value, Flags: c.Flags}
	}
	var paths []string
	for p := range out {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, out
}

func put(s scope, k subkey) error {
	pair := &consulapi.KVPair{Key: k.Path, Value: []byte(k.Value), Flags: uint64(k.Flags)}
	if _, err := s.c.api.KV().Put(pair, s.w()); err != nil {
		return s.fail(fmt.Sprintf("writing key %q", k.Path), err)
	}
	return nil
}

func del(s scope, path string) error {
	if _, err := s.c.api.KV().Delete(path, s.w()); err != nil {
		return s.fail(fmt.Sprintf("deleting key %q", path), err)
	}
	return nil
}

func list(s scope, prefix string) (consulapi.KVPairs, error) {
	pairs, _, err := s.c.api.KV().List(prefix, s.q())
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing the keys under %q", prefix), err)
	}
	return pairs, nil
}

func keyPrefixID(prefix string) string {
	if prefix == "" {
		return "/"
	}
	return prefix
}

func keyPrefixCreate(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	in, err := parseKeyPrefix(news)
	if err != nil {
		return "", nil, err
	}
	existing, err := list(s, in.Prefix)
	if err != nil {
		return "", nil, err
	}
	if len(existing) > 0 {
		return "", nil, fmt.Errorf("%d keys already exist under %q in Consul at %s; delete them before managing this prefix with Pulumi (a KeyPrefix only takes an empty prefix, as upstream)",
			len(existing), in.Prefix, s.c.endpoint)
	}
	state := news.Copy()
	state["datacenter"] = resource.NewStringProperty(s.datacenter)
	paths, keys := in.all()
	for i, p := range paths {
		if err := put(s, keys[p]); err != nil {
			// Record what was written, so the next update writes the rest (not a new create,
			// which would refuse the now non-empty prefix).
			return "", nil, partial(keyPrefixID(in.Prefix), keyPrefixWritten(state, in, paths[:i]), err)
		}
	}
	return keyPrefixID(in.Prefix), state, nil
}

// keyPrefixWritten is state with only the keys at the given full paths.
func keyPrefixWritten(state resource.PropertyMap, in keyPrefixInputs, written []string) resource.PropertyMap {
	done := map[string]bool{}
	for _, p := range written {
		done[p] = true
	}
	out := state.Copy()
	sub := map[string]string{}
	for k, v := range in.Subkeys {
		if done[in.Prefix+k] {
			sub[k] = v
		}
	}
	setKeepSecret(out, "subkeys", stringMapValue(sub))
	var coll []resource.PropertyValue
	for _, c := range in.Coll {
		if done[in.Prefix+c.Path] {
			coll = append(coll, subkeyValue(c))
		}
	}
	if len(in.Coll) > 0 {
		setKeepSecret(out, "subkeyCollection", resource.NewArrayProperty(coll))
	}
	return out
}

func subkeyValue(c subkey) resource.PropertyValue {
	return resource.NewObjectProperty(resource.PropertyMap{
		"path": resource.NewStringProperty(c.Path), "value": resource.NewStringProperty(c.Value),
		"flags": resource.NewNumberProperty(float64(c.Flags)),
	})
}

func keyPrefixUpdate(s scope, _ string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	in, err := parseKeyPrefix(news)
	if err != nil {
		return nil, err
	}
	old, err := parseKeyPrefix(olds)
	if err != nil {
		return nil, fmt.Errorf("the state: %v", err)
	}
	old.Prefix = in.Prefix // pathPrefix cannot change in place (it replaces)
	paths, keys := in.all()
	oldPaths, oldKeys := old.all()
	// As upstream: write first, then delete, so a renamed subkey is never absent.
	for _, p := range paths {
		if o, ok := oldKeys[p]; ok && o == keys[p] {
			continue
		}
		if err := put(s, keys[p]); err != nil {
			return nil, err
		}
	}
	for _, p := range oldPaths {
		if _, keep := keys[p]; !keep {
			if err := del(s, p); err != nil {
				return nil, err
			}
		}
	}
	state := news.Copy()
	state["datacenter"] = resource.NewStringProperty(s.datacenter)
	return state, nil
}

func keyPrefixRead(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	prefix := str(state, "pathPrefix")
	if _, ok := state["pathPrefix"]; !ok { // import: the ID is the prefix
		if id != "/" {
			prefix = id
		}
		state["pathPrefix"] = resource.NewStringProperty(prefix)
	}
	pairs, err := list(s, prefix)
	if err != nil {
		return "", nil, err
	}
	var collPaths []string
	for _, o := range objects(state, "subkeyCollection", &failures{}) {
		collPaths = append(collPaths, str(o, "path"))
	}
	inColl := map[string]*consulapi.KVPair{}
	sub := map[string]string{}
	for _, pair := range pairs {
		name := pair.Key[min(len(prefix), len(pair.Key)):]
		isColl := false
		for _, c := range collPaths {
			if c == name {
				inColl[name] = pair
				isColl = true
			}
		}
		if !isColl {
			sub[name] = string(pair.Value)
		}
	}
	if _, had := state["subkeys"]; had || len(sub) > 0 {
		setKeepSecret(state, "subkeys", stringMapValue(sub))
	}
	if _, had := state["subkeyCollection"]; had {
		var coll []resource.PropertyValue
		for _, c := range collPaths {
			if pair, ok := inColl[c]; ok {
				coll = append(coll, subkeyValue(subkey{Path: c, Value: string(pair.Value), Flags: int(pair.Flags)}))
			}
		}
		setKeepSecret(state, "subkeyCollection", resource.NewArrayProperty(coll))
	}
	state["datacenter"] = resource.NewStringProperty(s.datacenter)
	return keyPrefixID(prefix), state, nil
}

func keyPrefixDelete(s scope, _ string, state resource.PropertyMap) error {
	in, err := parseKeyPrefix(state)
	if err != nil {
		return fmt.Errorf("the state: %v", err)
	}
	if in.Prefix == "" {
		// Upstream would delete the whole KV store here; remove only the keys in the state.
		paths, _ := in.all()
		for _, p := range paths {
			if err := del(s, p); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := s.c.api.KV().DeleteTree(in.Prefix, s.w()); err != nil {
		return s.fail(fmt.Sprintf("deleting the keys under %q", in.Prefix), err)
	}
	return nil
}

// --- consul:index/keys:Keys -----------------------------------------------------------------
//
// A set of keys, each {path, value, flags, default, delete, name}. Written on create and when
// changed; a key leaves Consul (on removal from the list or on delete) only when its `delete`
// is true, as upstream. Read puts each key's value in Consul into the state (drift); a key
// with `name` is read only, into `var`.

var keyDefaults = map[string]any{"flags": float64(0), "delete": false, "default": "", "name": ""}

func init() {
	register(&spec{
		token:          keysType,
		inputs:         []string{"datacenter", "keys", "namespace", "partition", "token"},
		forceNew:       map[string]bool{"datacenter": true, "namespace": true, "partition": true},
		computed:       map[string]bool{"datacenter": true},
		previewUnknown: []string{"datacenter", "var"},
		check: func(_ string, news, _ resource.PropertyMap, fs *failures) {
			checkStrings(news, fs, "datacenter", "namespace", "partition", "token")
			for i, o := range objects(news, "keys", fs) {
				path := fmt.Sprintf("keys[%d]", i)
				checkRequired(o, "path", fs)
				strOf(o, "value", path+".value", fs)
				strOf(o, "default", path+".default", fs)
				strOf(o, "name", path+".name", fs)
				numberOf(o, "flags", path+".flags", 0, fs)
				boolOf(o, "delete", path+".delete", fs)
				// Upstream's defaults, as the bridge fills them in.
				for k, d := range keyDefaults {
					if _, ok := o[resource.PropertyKey(k)]; !ok {
						o[resource.PropertyKey(k)] = resource.NewPropertyValue(d)
					}
				}
			}
		},
		create: func(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error) {
			state, err := keysWrite(s, nil, news)
			return "consul", state, err
		},
		update: func(s scope, _ string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
			return keysWrite(s, olds, news)
		},
		read: func(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
			st, err := keysRead(s, state)
			return id, st, err
		},
		delete: func(s scope, _ string, state resource.PropertyMap) error {
			for _, k := range parseKeys(state) {
				if k.Delete {
					if err := del(s, k.Path); err != nil {
						return err
					}
				}
			}
			return nil
		},
		norm: func(k string, v any) any {
			if k != "keys" {
				return v
			}
			return sortedObjects(v, keyDefaults)
		},
	})
}

type keyEntry struct {
	Path, Value, Default, Name string
	HasValue, Delete           bool
	Flags                      int
}

func parseKeys(m resource.PropertyMap) []keyEntry {
	var fs failures
	var out []keyEntry
	for i, o := range objects(m, "keys", &fs) {
		p := fmt.Sprintf("keys[%d]", i)
		_, hasValue := field{Map: o, Key: "value"}.Raw()
		out = append(out, keyEntry{Path: strOf(o, "path", p, &fs), Value: strOf(o, "value", p, &fs),
			HasValue: hasValue, Default: strOf(o, "default", p, &fs), Name: strOf(o, "name", p, &fs),
			Delete: boolOf(o, "delete", p, &fs), Flags: numberOf(o, "flags", p, 0, &fs)})
	}
	return out
}

// keysWrite applies the difference between the keys of olds (nil on create) and news, then
// reads the keys back, as upstream.
func keysWrite(s scope, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	oldKeys, newKeys := parseKeys(olds), parseKeys(news)
	in := func(k keyEntry, set []keyEntry) bool {
		for _, e := range set {
			if e == k {
				return true
			}
		}
		return false
	}
	added := map[string]bool{}
	for _, k := range newKeys {
		if in(k, oldKeys) {
			continue
		}
		if k.Name != "" && k.Value == "" {
			continue // a key only read into `var`
		}
		if err := put(s, subkey{Path: k.Path, Value: k.Value, Flags: k.Flags}); err != nil {
			return nil, err
		}
		added[k.Path] = true
	}
	for _, k := range oldKeys {
		if in(k, newKeys) || added[k.Path] || !k.Delete {
			continue
		}
		// Still listed (with other settings)? Then it stays.
		still := false
		for _, n := range newKeys {
			still = still || n.Path == k.Path
		}
		if still {
			continue
		}
		if err := del(s, k.Path); err != nil {
			return nil, err
		}
	}
	return keysRead(s, news.Copy())
}

func keysRead(s scope, state resource.PropertyMap) (resource.PropertyMap, error) {
	vars := map[string]string{}
	keysV, hasKeys := state["keys"]
	if hasKeys {
		inner, secret := shallow(keysV)
		if inner.IsArray() {
			var elems []resource.PropertyValue
			for _, e := range inner.ArrayValue() {
				ei, esecret := shallow(e)
				if !ei.IsObject() {
					elems = append(elems, e)
					continue
				}
				o := ei.ObjectValue().Copy()
				path := str(o, "path")
				pair, _, err := s.c.api.KV().Get(path, s.q())
				if err != nil {
					return nil, s.fail(fmt.Sprintf("reading key %q", path), err)
				}
				value, flags := "", 0
				if pair != nil {
					value, flags = string(pair.Value), int(pair.Flags)
				}
				if value == "" {
					value = str(o, "default")
				}
				o["flags"] = resource.NewNumberProperty(float64(flags))
				if name := str(o, "name"); name != "" {
					vars[name] = value
				} else {
					setKeepSecret(o, "value", resource.NewStringProperty(value))
				}
				ev := resource.NewObjectProperty(o)
				if esecret {
					ev = resource.MakeSecret(ev)
				}
				elems = append(elems, ev)
			}
			v := resource.NewArrayProperty(elems)
			if secret {
				v = resource.MakeSecret(v)
			}
			state["keys"] = v
		}
	}
	state["var"] = stringMapValue(vars)
	state["datacenter"] = resource.NewStringProperty(s.datacenter)
	return state, nil
}
