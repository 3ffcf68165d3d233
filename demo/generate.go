//go:build ignore

// generate writes the demo's pool (pool.csv: the fake API's users and their
// MFA bindings) and its audit input (users.csv). Run from the repository
// root: go run demo/generate.go
package main

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var (
	first = []string{"Wei", "Li", "Jing", "Hao", "Mei", "Chen", "Yan", "Jun", "Xin", "Lei",
		"Alice", "Bob", "Carol", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas",
		"Kofi", "Lena", "Marta", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
		"Uma", "Viktor", "Wen", "Xavier", "Yuki", "Zara", "Aiko", "Bruno", "Chloe", "Dmitri"}
	last = []string{"Wang", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu",
		"Smith", "Garcia", "Müller", "Rossi", "Tanaka", "Kowalski", "Okafor", "Silva", "Novak", "Haddad",
		"O'Brien", "Nguyen", "Kim", "Johansson", "Dubois", "Patel", "Costa", "Schmidt", "Ivanova", "Moreau"}
	// departments with the chance that a member has TOTP, face, SMS, e-mail bound.
	depts = []struct {
		name                 string
		size                 int
		totp, face, sms, eml float64
	}{
		{"Engineering", 110, 0.78, 0.05, 0.30, 0.20},
		{"IT Security", 18, 0.97, 0.20, 0.10, 0.05},
		{"Finance", 36, 0.55, 0.10, 0.45, 0.25},
		{"Sales", 64, 0.22, 0.04, 0.50, 0.20},
		{"Marketing", 34, 0.30, 0.06, 0.35, 0.25},
		{"Human Resources", 20, 0.45, 0.10, 0.40, 0.30},
		{"Legal", 12, 0.60, 0.00, 0.40, 0.10},
		{"Customer Support", 58, 0.18, 0.02, 0.30, 0.15},
		{"Operations", 40, 0.35, 0.08, 0.40, 0.10},
		{"Executive", 8, 0.75, 0.25, 0.50, 0.25},
	}
	locations = []string{"Shanghai", "Beijing", "Shenzhen", "Singapore", "Berlin", "London", "San Francisco", "Remote"}
)

type person struct {
	id, username, email, phone, ext, identity, sync string
	name, dept, manager, location                   string
	totp, face, sms, eml, legacy                    bool
}

func main() {
	r := rand.New(rand.NewPCG(2026, 11))
	var people []person
	n := 0
	for _, d := range depts {
		var head string
		for i := 0; i < d.size; i++ {
			n++
			f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
			name := f + " " + l
			user := strings.ToLower(strings.NewReplacer("'", "", "ü", "ue").Replace(f + "." + l))
			user = fmt.Sprintf("%s%d", user, n)
			p := person{
				id:       fmt.Sprintf("6%011x%012x", r.Uint64()&0xfffffffffff, r.Uint64()&0xffffffffffff),
				username: user,
				email:    user + "@example.com",
				phone:    fmt.Sprintf("+86 13%d %04d %04d", r.IntN(10), r.IntN(10000), r.IntN(10000)),
				ext:      fmt.Sprintf("EMP-%05d", 10000+n),
				identity: fmt.Sprintf("61f0a%07x:wx_%010x", r.IntN(1<<24), r.Uint64()&0xffffffffff),
				sync:     fmt.Sprintf("lark:ou_%016x", r.Uint64()),
				name:     name,
				dept:     d.name,
				manager:  head,
				location: locations[r.IntN(len(locations))],
				totp:     r.Float64() < d.totp,
				face:     r.Float64() < d.face,
				sms:      r.Float64() < d.sms,
				eml:      r.Float64() < d.eml,
				legacy:   r.Float64() < 0.03,
			}
			if i == 0 {
				head = name
				p.manager = "" // the department head reports to nobody here
			}
			people = append(people, p)
		}
	}
	people[3].name = "Seán O'Brien, Jr." // a comma and quotes survive every output

	pool := csv.NewWriter(must(os.Create("demo/pool.csv")))
	pool.Write([]string{"user_id", "username", "email", "phone", "external_id", "identity", "sync_relation", "department", "totp", "face", "sms", "email_mfa", "legacy"})
	for _, p := range people {
		pool.Write([]string{p.id, p.username, p.email, p.phone, p.ext, p.identity, p.sync, p.dept, b(p.totp), b(p.face), b(p.sms), b(p.eml), b(p.legacy)})
	}
	pool.Flush()

	in := csv.NewWriter(must(os.Create("demo/users.csv")))
	in.Write([]string{"user_id", "id_type", "name", "department", "manager", "location"})
	row := func(id, typ string, p person) {
		in.Write([]string{id, typ, p.name, p.dept, p.manager, p.location})
	}
	for i, p := range people {
		switch x := r.Float64(); {
		case x < 0.58:
			row(p.id, "user_id", p)
		case x < 0.68:
			row(p.email, "email", p)
		case x < 0.78:
			row(p.phone, "phone", p)
		case x < 0.85:
			row(p.username, "username", p)
		case x < 0.91:
			row(p.ext, "external_id", p)
		case x < 0.96:
			row(p.identity, "identity", p)
		default:
			row(p.sync, "sync_relation", p)
		}
		if i%67 == 5 { // listed twice by two HR exports
			row(p.id, "user_id", p)
		}
	}
	// Findings the demo should show: people who left, typos, bad rows.
	gone := person{name: "Former Employee", dept: "Sales", location: "Remote"}
	for i := 0; i < 5; i++ {
		row(fmt.Sprintf("6%023x", r.Uint64()), "user_id", gone)
	}
	row("departed.user@example.com", "email", gone)
	row("jane.doe.example.com", "email", person{name: "Jane Doe", dept: "Marketing", location: "London"})
	row("", "user_id", person{name: "(blank id in HR export)", dept: "Operations"})
	row("EMP-99999", "employee_no", person{name: "Unknown Type", dept: "Finance"})
	in.Flush()
	fmt.Println("wrote demo/pool.csv and demo/users.csv:", len(people), "users")
}

func b(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

func must(f *os.File, err error) *os.File {
	if err != nil {
		panic(err)
	}
	return f
}
