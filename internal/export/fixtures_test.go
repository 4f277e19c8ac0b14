package export

import (
	"iter"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// testNow is the Now of every golden export.
var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func testOptions() Options {
	return Options{Now: testNow, HubName: "Z-CERT hub"}
}

// fixture is the fixed set of indicators of the golden files: every type,
// every TLP, labels with commas and quotes, a description with a tab and a
// newline and one that looks like a spreadsheet formula, a punycode domain,
// and one revoked and one expired indicator that no detection format
// writes.
func fixture() []model.Indicator {
	created := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	seen := time.Date(2026, 3, 10, 17, 45, 0, 0, time.UTC)
	until := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	ind := func(t indicator.Type, v string, tlp policy.TLP, labels ...string) model.Indicator {
		n++
		return model.Indicator{
			ID:   "0195f3c0-7a00-7000-8000-" + hex12(n),
			Type: t, Value: v, TLP: tlp, Labels: labels,
			Confidence: 50 + n,
			ValidFrom:  created, FirstSeen: created, LastSeen: seen,
			Created: created, Modified: created.Add(time.Duration(n) * time.Minute),
			Seq: int64(100 + n),
		}
	}
	inds := []model.Indicator{
		ind(indicator.Domain, "c2.bad-actor.example", policy.Amber, "c2", "malware"),
		ind(indicator.Domain, "xn--bcher-kva.example", policy.Green, "phishing"),
		ind(indicator.Hostname, "login.micros0ft-support.example", policy.AmberStrict, "phishing", "credential, theft"),
		ind(indicator.URL, "http://evil.example/dl/payload.exe", policy.Amber, "malware"),
		ind(indicator.URL, "https://phish.example:8443/login.php?user=a&next=%2Fhome", policy.Green, `say "hi"`, "phishing"),
		ind(indicator.URL, "http://cdn.bad-actor.example/a;b/c%22d%7Ce", policy.Red, "malware"),
		ind(indicator.IPv4, "198.51.100.23", policy.Red, "ransomware"),
		ind(indicator.IPv6, "2001:db8::bad:1", policy.Amber, "c2"),
		ind(indicator.IPv6, "2001:db8:1:2:3:4:5:6", policy.Green),
		ind(indicator.CIDR, "203.0.113.0/24", policy.Clear, "scanning"),
		ind(indicator.CIDR, "2001:db8:abcd::/48", policy.Amber, "espionage"),
		ind(indicator.Email, "ceo@phish.example", policy.Green, "phishing", "malicious-activity"),
		ind(indicator.MD5, "44d88612fea8a8f36de82e1278abb02f", policy.Clear, "malware"),
		ind(indicator.SHA1, "3395856ce81f2b7382dee72602f798b642f14140", policy.Clear, "malware"),
		ind(indicator.SHA256, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", policy.Clear, "malware"),
		ind(indicator.SHA512, "cc805d5fab1fd71a4ab352a9c533e65fb2d5b885518f4e565e68847223b8e6b85cb48f3afad842726d99239c9e36505c64b0dc9a061d9e507d833277ada336ab", policy.Clear),
		ind(indicator.X509SHA1, "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", policy.Amber, "c2"),
		ind(indicator.X509SHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", policy.Amber, "c2"),
		ind(indicator.JA3, "e7eca2baf4458d095b7f45da28c16c34", policy.Green, "malware"),
		ind(indicator.JA3S, "b26c652e0a402a24b5ca2a660e84f9d5", policy.Green, "malware"),
		ind(indicator.JA4, "t13d1516h2_8daaf6152771_b186095e22b6", policy.Green, "malware"),
		ind(indicator.Domain, "revoked.example", policy.Amber, "malware"),
		ind(indicator.Domain, "expired.example", policy.Amber, "malware"),
		ind(indicator.IPv4, "192.0.2.66", policy.Amber, "c2"),
	}
	inds[0].Description = "Dropper C2\tstage 1\nseen at two hospitals; \"urgent\""
	inds[0].ReportID = "0195f3c0-7a00-7000-8000-ffffffffffff"
	inds[0].ValidUntil = until
	inds[3].Description = `=HYPERLINK("http://evil.example","click")`
	inds[6].Description = "-2+3 looks like a formula too"
	inds[21].Revoked = true
	inds[22].ValidUntil = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	inds[23].Confidence = 0
	inds[23].Seq = 0
	return inds
}

func hex12(n int) string {
	const digits = "0123456789abcdef"
	b := []byte("000000000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = digits[n%16]
		n /= 16
	}
	return string(b)
}

// seq turns a slice into the source Write reads.
func seq(inds []model.Indicator) iter.Seq2[model.Indicator, error] {
	return func(yield func(model.Indicator, error) bool) {
		for _, ind := range inds {
			if !yield(ind, nil) {
				return
			}
		}
	}
}
