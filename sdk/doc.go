// Package sdk is the Go client for the Switchboard REST API (docs/API.md).
//
// It depends only on the standard library. A Client groups the API by
// resource, and every call takes a context.Context first:
//
//	client := sdk.New(apiKey, sdk.WithBaseURL("http://localhost:8080"))
//	msg, err := client.Messages.Send(ctx, &sdk.SendMessageParams{
//		Channel: sdk.ChannelSMS,
//		From:    "+15005550000",
//		To:      "+79991234567",
//		Text:    "Hello",
//	})
//
// To send to a customer rather than an address, set ToCustomer instead of
// To; ChannelAuto lets routing pick the channel, and Failover lists
// channels to try in turn in place of Channel:
//
//	msg, err := client.Messages.Send(ctx, &sdk.SendMessageParams{
//		Channel:    sdk.ChannelAuto,
//		ToCustomer: customer.ID,
//		Text:       "Your table is ready",
//	})
//	msg, err = client.Messages.Send(ctx, &sdk.SendMessageParams{
//		To:   "+79991234567",
//		Text: "Your code is 424242",
//		Failover: []sdk.FailoverStep{
//			{Channel: sdk.ChannelWhatsApp},
//			{Channel: sdk.ChannelSMS, After: 30 * time.Second, Unless: sdk.StatusDelivered},
//		},
//	})
//
// Customers, Conversations, OptOuts and Settings manage the routing
// records behind such sends.
//
// Channels connects the provider accounts messages go out on. The
// credentials are verified with the provider and never come back; paste
// the channel's WebhookURL into the provider's console unless its
// WebhookStatus is WebhookRegistered:
//
//	ch, err := client.Channels.Create(ctx, &sdk.CreateChannelParams{
//		Type:        sdk.ChannelTypeTelegram,
//		Credentials: map[string]any{"bot_token": token},
//		Senders:     []sdk.Sender{{Channel: sdk.ChannelTelegram, Address: "my_shop_bot", Default: true}},
//	})
//
// Lists are Go iterators that fetch further pages on demand; break out of
// the loop to stop fetching:
//
//	for m, err := range client.Messages.List(ctx, &sdk.ListMessagesParams{Status: sdk.StatusFailed}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(m.ID)
//	}
//
// Every non-2xx response becomes an *Error carrying the RFC 9457 problem
// fields and the request id. Transient failures (network errors, 429 and
// 5xx) are retried with exponential backoff, honouring Retry-After. Sends
// always carry an Idempotency-Key, generated when the caller gives none, and
// the same key is reused on every retry so a message is never sent twice.
//
// Webhook receivers verify deliveries with VerifyWebhook (Standard Webhooks
// 1.0) and decode them with ParseWebhookEvent, which puts the data of each
// event type in its own field (Data for message events, Customer,
// Conversation or OptOut for customer-level ones); SignWebhook signs
// payloads the same way the server does, for integrators' tests.
package sdk
