package webhook_test

import (
	"fmt"

	"github.com/inbond/inbond/alerts/webhook"
)

// A receiver checks a delivery by signing what it got (webhook-id,
// webhook-timestamp and the raw body, never a re-encoding of it) and
// comparing with webhook-signature in constant time (hmac.Equal); it also
// refuses timestamps far from its clock and deduplicates by webhook-id.
func ExampleSign() {
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	fmt.Println(webhook.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`)))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
