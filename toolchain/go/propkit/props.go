// Package propkit: helpers over resource.PropertyMap shared by our own provider plugins
// (toolchain/go/command and toolchain/go/consul). Inputs arrive with secrets kept (Configure
// accepts secrets) and, during previews, with unknowns; these helpers look through secrets.
package propkit

import (
	"fmt"
	"math"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Unsecret returns v without any secret wrappers, at any depth.
func Unsecret(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return Unsecret(v.SecretValue().Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = Unsecret(e)
		}
		return resource.NewObjectProperty(m)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = Unsecret(e)
		}
		return resource.NewArrayProperty(a)
	}
	return v
}

// UnsecretMap is unsecret over a whole map.
func UnsecretMap(m resource.PropertyMap) resource.PropertyMap {
	return Unsecret(resource.NewObjectProperty(m)).ObjectValue()
}

// Shallow returns v without a top-level secret wrapper and whether there was one.
func Shallow(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		secret = true
		v = v.SecretValue().Element
	}
	return v, secret
}

// ContainsUnknowns reports whether v holds an unknown (computed) value anywhere.
func ContainsUnknowns(v resource.PropertyValue) bool {
	v, _ = Shallow(v)
	switch {
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return true
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if ContainsUnknowns(e) {
				return true
			}
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if ContainsUnknowns(e) {
				return true
			}
		}
	}
	return false
}

// SecretStrings collects every string that sits under a secret wrapper in v (for scrubbing).
func SecretStrings(v resource.PropertyValue, underSecret bool, out map[string]bool) {
	if v.IsSecret() {
		SecretStrings(v.SecretValue().Element, true, out)
		return
	}
	switch {
	case v.IsString():
		if underSecret {
			out[v.StringValue()] = true
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			SecretStrings(e, underSecret, out)
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			SecretStrings(e, underSecret, out)
		}
	}
}

// Field reads one property of a map, looking through a secret wrapper.
type Field struct {
	Map resource.PropertyMap
	Key string
}

func (f Field) Raw() (resource.PropertyValue, bool) {
	v, ok := f.Map[resource.PropertyKey(f.Key)]
	if !ok {
		return resource.PropertyValue{}, false
	}
	v, _ = Shallow(v)
	if v.IsNull() || ContainsUnknowns(v) {
		// Unknown during previews: nothing to check or use yet.
		return v, false
	}
	return v, true
}

// Unknown reports whether the property is present but not known yet (previews).
func (f Field) Unknown() bool {
	v, ok := f.Map[resource.PropertyKey(f.Key)]
	return ok && ContainsUnknowns(v)
}

// Str returns the string value (nil if absent or null) or an error naming the property.
func (f Field) Str(path string) (*string, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("%s must be a string, got %s", path, Kind(v))
	}
	s := v.StringValue()
	return &s, nil
}

// Num returns an integral number (nil if absent) or an error naming the property.
func (f Field) Num(path string) (*int, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsNumber() {
		return nil, fmt.Errorf("%s must be a number, got %s", path, Kind(v))
	}
	n := v.NumberValue()
	if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
		return nil, fmt.Errorf("%s must be an integer, got %v", path, n)
	}
	i := int(n)
	return &i, nil
}

// Bool returns the bool value (nil if absent) or an error naming the property.
func (f Field) Bool(path string) (*bool, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsBool() {
		return nil, fmt.Errorf("%s must be a boolean, got %s", path, Kind(v))
	}
	b := v.BoolValue()
	return &b, nil
}

// Strings returns a list of strings (nil if absent) or an error naming the property.
func (f Field) Strings(path string) ([]string, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, fmt.Errorf("%s must be a list of strings, got %s", path, Kind(v))
	}
	var out []string
	for i, e := range v.ArrayValue() {
		e, _ = Shallow(e)
		if !e.IsString() {
			return nil, fmt.Errorf("%s[%d] must be a string, got %s", path, i, Kind(e))
		}
		out = append(out, e.StringValue())
	}
	return out, nil
}

// StringMap returns a map of strings, sorted by key (nil if absent) or an error.
func (f Field) StringMap(path string) ([][2]string, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be a map of strings, got %s", path, Kind(v))
	}
	var out [][2]string
	for k, e := range v.ObjectValue() {
		e, _ = Shallow(e)
		if e.IsNull() {
			continue
		}
		if !e.IsString() {
			return nil, fmt.Errorf("%s.%s must be a string, got %s", path, k, Kind(e))
		}
		out = append(out, [2]string{string(k), e.StringValue()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// Object returns the nested map (nil if absent) or an error naming the property.
func (f Field) Object(path string) (resource.PropertyMap, error) {
	v, ok := f.Raw()
	if !ok {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be an object, got %s", path, Kind(v))
	}
	return v.ObjectValue(), nil
}

// Kind names a value's type for error messages ("a string", "an unknown value").
func Kind(v resource.PropertyValue) string {
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
