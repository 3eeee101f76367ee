package provider

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Input checks shared by the resource types. Unknown values (previews) pass every check.

func checkRequired(m resource.PropertyMap, k string, fs *failures) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || v.IsNull() {
		fs.add(k, errors.New("is required"))
		return
	}
	if containsUnknowns(v) {
		return
	}
	if inner, _ := shallow(v); !inner.IsString() {
		fs.add(k, fmt.Errorf("must be a string, got %s", kind(inner)))
	}
}

func checkStrings(m resource.PropertyMap, fs *failures, keys ...string) {
	for _, k := range keys {
		_, err := field{Map: m, Key: k}.Str(k)
		fs.add(k, err)
	}
}

func checkStringMap(m resource.PropertyMap, k string, fs *failures) {
	_, err := field{Map: m, Key: k}.StringMap(k)
	fs.add(k, err)
}

// autoName gives an absent `name` a value as the bridged upstream does (the resource's name, a
// dash and 7 random hex digits), keeping the one chosen before.
func autoName(name string, news, olds resource.PropertyMap, fs *failures) {
	if v, ok := news["name"]; ok && !v.IsNull() {
		return
	}
	if v, ok := olds["name"]; ok && v.IsString() {
		news["name"] = v
		return
	}
	n, err := resource.NewUniqueHex(name+"-", 7, 255)
	if err != nil {
		fs.add("name", err)
		return
	}
	news["name"] = resource.NewStringProperty(n)
}

// objects returns the list k of objects (nil if absent or unknown), reporting type errors.
func objects(m resource.PropertyMap, k string, fs *failures) []resource.PropertyMap {
	v, ok := field{Map: m, Key: k}.Raw()
	if !ok {
		return nil
	}
	if !v.IsArray() {
		fs.add(k, fmt.Errorf("must be a list, got %s", kind(v)))
		return nil
	}
	var out []resource.PropertyMap
	for i, e := range v.ArrayValue() {
		e, _ = shallow(e)
		if !e.IsObject() {
			fs.add(fmt.Sprintf("%s[%d]", k, i), fmt.Errorf("must be an object, got %s", kind(e)))
			continue
		}
		out = append(out, e.ObjectValue())
	}
	return out
}

// numberOf reads an integer property of an object (def when absent).
func numberOf(m resource.PropertyMap, k, path string, def int, fs *failures) int {
	n, err := field{Map: m, Key: k}.Num(path)
	if err != nil {
		fs.add(path, err)
		return def
	}
	if n == nil {
		return def
	}
	return *n
}

func boolOf(m resource.PropertyMap, k, path string, fs *failures) bool {
	b, err := field{Map: m, Key: k}.Bool(path)
	if err != nil {
		fs.add(path, err)
		return false
	}
	return b != nil && *b
}

func strOf(m resource.PropertyMap, k, path string, fs *failures) string {
	s, err := field{Map: m, Key: k}.Str(path)
	if err != nil {
		fs.add(path, err)
		return ""
	}
	if s == nil {
		return ""
	}
	return *s
}

// mapOf returns map property k as Go strings (nil when absent).
func mapOf(m resource.PropertyMap, k string) map[string]string {
	pairs, err := field{Map: m, Key: k}.StringMap(k)
	if err != nil || pairs == nil {
		return nil
	}
	out := map[string]string{}
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out
}

// stringMapValue is m as a PropertyValue (an empty map for nil).
func stringMapValue(m map[string]string) resource.PropertyValue {
	pm := resource.PropertyMap{}
	for k, v := range m {
		pm[resource.PropertyKey(k)] = resource.NewStringProperty(v)
	}
	return resource.NewObjectProperty(pm)
}

// failure is one problem with an input, for CheckFailure.
type failure struct{ property, reason string }

type failures []failure

func (fs *failures) add(property string, err error) {
	if err != nil {
		*fs = append(*fs, failure{property, err.Error()})
	}
}

// err is all failures as one error (nil if none).
func (fs failures) err() error {
	if len(fs) == 0 {
		return nil
	}
	msg := "invalid inputs:"
	for _, f := range fs {
		msg += fmt.Sprintf("\n  %s: %s", f.property, f.reason)
	}
	return errors.New(msg)
}
