package propkit

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestStrLooksThroughSecretsAndNamesTheProperty(t *testing.T) {
	m := resource.PropertyMap{
		"plain":  resource.NewStringProperty("a"),
		"secret": resource.MakeSecret(resource.NewStringProperty("b")),
		"number": resource.NewNumberProperty(3),
	}
	if s, err := (Field{Map: m, Key: "secret"}).Str("secret"); err != nil || s == nil || *s != "b" {
		t.Fatalf("secret string: %v %v", s, err)
	}
	if s, err := (Field{Map: m, Key: "absent"}).Str("absent"); err != nil || s != nil {
		t.Fatalf("absent: want nil, nil; got %v %v", s, err)
	}
	_, err := (Field{Map: m, Key: "number"}).Str("connection.host")
	if err == nil || err.Error() != "connection.host must be a string, got a number" {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestUnknownsAreNotReadButReported(t *testing.T) {
	m := resource.PropertyMap{
		"later":  resource.MakeComputed(resource.NewStringProperty("")),
		"nested": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("x"), resource.MakeComputed(resource.NewStringProperty(""))}),
	}
	for _, k := range []string{"later", "nested"} {
		f := Field{Map: m, Key: k}
		if _, ok := f.Raw(); ok {
			t.Errorf("%s: Raw says known", k)
		}
		if !f.Unknown() {
			t.Errorf("%s: Unknown says false", k)
		}
	}
	if (Field{Map: m, Key: "absent"}).Unknown() {
		t.Error("absent: Unknown says true")
	}
}

func TestNumStringsAndStringMapCheckEveryElement(t *testing.T) {
	m := resource.PropertyMap{
		"half":  resource.NewNumberProperty(1.5),
		"port":  resource.NewNumberProperty(22),
		"words": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("a"), resource.NewNumberProperty(1)}),
		"env":   resource.NewObjectProperty(resource.PropertyMap{"B": resource.NewStringProperty("2"), "A": resource.MakeSecret(resource.NewStringProperty("1")), "N": resource.NewNullProperty()}),
	}
	if n, err := (Field{Map: m, Key: "port"}).Num("port"); err != nil || *n != 22 {
		t.Fatalf("port: %v %v", n, err)
	}
	if _, err := (Field{Map: m, Key: "half"}).Num("half"); err == nil || !strings.Contains(err.Error(), "must be an integer") {
		t.Fatalf("half: %v", err)
	}
	if _, err := (Field{Map: m, Key: "words"}).Strings("args"); err == nil || err.Error() != "args[1] must be a string, got a number" {
		t.Fatalf("words: %v", err)
	}
	env, err := (Field{Map: m, Key: "env"}).StringMap("environment")
	if err != nil || len(env) != 2 || env[0] != [2]string{"A", "1"} || env[1] != [2]string{"B", "2"} {
		t.Fatalf("env: %v %v", env, err)
	}
}

func TestSecretStringsCollectsOnlyWhatIsUnderASecret(t *testing.T) {
	v := resource.NewObjectProperty(resource.PropertyMap{
		"user":  resource.NewStringProperty("root"),
		"token": resource.MakeSecret(resource.NewStringProperty("s3cr3t")),
		"inner": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{"key": resource.NewStringProperty("k3y")})),
	})
	got := map[string]bool{}
	SecretStrings(v, false, got)
	if !got["s3cr3t"] || !got["k3y"] || got["root"] {
		t.Fatalf("got %v", got)
	}
	if u := Unsecret(v); u.ContainsSecrets() {
		t.Fatal("Unsecret left a secret")
	}
}
