package provider

import (
	"fmt"
	"math"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Helpers over resource.PropertyMap. Inputs arrive with secrets kept (Configure accepts
// secrets) and, during previews, with unknowns; these helpers look through secrets.

// unsecret returns v without any secret wrappers, at any depth.
func unsecret(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unsecret(v.SecretValue().Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = unsecret(e)
		}
		return resource.NewObjectProperty(m)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = unsecret(e)
		}
		return resource.NewArrayProperty(a)
	}
	return v
}

// unsecretMap is unsecret over a whole map.
func unsecretMap(m resource.PropertyMap) resource.PropertyMap {
	return unsecret(resource.NewObjectProperty(m)).ObjectValue()
}

// shallow returns v without a top-level secret wrapper and whether there was one.
func shallow(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		secret = true
		v = v.SecretValue().Element
	}
	return v, secret
}

// containsUnknowns reports whether v holds an unknown (computed) value anywhere.
func containsUnknowns(v resource.PropertyValue) bool {
	v, _ = shallow(v)
	switch {
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return true
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if containsUnknowns(e) {
				return true
			}
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if containsUnknowns(e) {
				return true
			}
		}
	}
	return false
}

// secretStrings collects every string that sits under a secret wrapper in v (for scrubbing).
func secretStrings(v resource.PropertyValue, underSecret bool, out map[string]bool) {
	if v.IsSecret() {
		secretStrings(v.SecretValue().Element, true, out)
		return
	}
	switch {
	case v.IsString():
		if underSecret {
			out[v.StringValue()] = true
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			secretStrings(e, underSecret, out)
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			secretStrings(e, underSecret, out)
		}
	}
}

// field reads one property of a map, looking through a secret wrapper.
type field struct {
	m   resource.PropertyMap
	key string
}

func (f field) raw() (resource.PropertyValue, bool) {
	v, ok := f.m[resource.PropertyKey(f.key)]
	if !ok {
		return resource.PropertyValue{}, false
	}
	v, _ = shallow(v)
	if v.IsNull() || containsUnknowns(v) {
		// Unknown during previews: nothing to check or use yet.
		return v, false
	}
	return v, true
}

// unknown reports whether the property is present but not known yet (previews).
func (f field) unknown() bool {
	v, ok := f.m[resource.PropertyKey(f.key)]
	return ok && containsUnknowns(v)
}

// str returns the string value (nil if absent or null) or an error naming the property.
func (f field) str(path string) (*string, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("%s must be a string, got %s", path, kind(v))
	}
	s := v.StringValue()
	return &s, nil
}

// num returns an integral number (nil if absent) or an error naming the property.
func (f field) num(path string) (*int, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsNumber() {
		return nil, fmt.Errorf("%s must be a number, got %s", path, kind(v))
	}
	n := v.NumberValue()
	if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
		return nil, fmt.Errorf("%s must be an integer, got %v", path, n)
	}
	i := int(n)
	return &i, nil
}

// boolean returns the bool value (nil if absent) or an error naming the property.
func (f field) boolean(path string) (*bool, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsBool() {
		return nil, fmt.Errorf("%s must be a boolean, got %s", path, kind(v))
	}
	b := v.BoolValue()
	return &b, nil
}

// strings returns a list of strings (nil if absent) or an error naming the property.
func (f field) strings(path string) ([]string, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, fmt.Errorf("%s must be a list of strings, got %s", path, kind(v))
	}
	var out []string
	for i, e := range v.ArrayValue() {
		e, _ = shallow(e)
		if !e.IsString() {
			return nil, fmt.Errorf("%s[%d] must be a string, got %s", path, i, kind(e))
		}
		out = append(out, e.StringValue())
	}
	return out, nil
}

// stringMap returns a map of strings, sorted by key (nil if absent) or an error.
func (f field) stringMap(path string) ([][2]string, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be a map of strings, got %s", path, kind(v))
	}
	var out [][2]string
	for k, e := range v.ObjectValue() {
		e, _ = shallow(e)
		if e.IsNull() {
			continue
		}
		if !e.IsString() {
			return nil, fmt.Errorf("%s.%s must be a string, got %s", path, k, kind(e))
		}
		out = append(out, [2]string{string(k), e.StringValue()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// object returns the nested map (nil if absent) or an error naming the property.
func (f field) object(path string) (resource.PropertyMap, error) {
	v, ok := f.raw()
	if !ok {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be an object, got %s", path, kind(v))
	}
	return v.ObjectValue(), nil
}

func kind(v resource.PropertyValue) string {
	switch {
	case v.IsNull():
		return "null"
	case v.IsBool():
		return "a boolean"
	case v.IsNumber():
		return "a number"
	case v.IsString():
		return "a string"
	case v.IsArray():
		return "a list"
	case v.IsObject():
		return "an object"
	case v.IsAsset():
		return "an asset"
	case v.IsArchive():
		return "an archive"
	case v.IsComputed():
		return "an unknown value"
	}
	return v.TypeString()
}
