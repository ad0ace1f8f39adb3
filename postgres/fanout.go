package postgres

// fanOutSQL continues a WITH query whose CTE "upd" returns changed message
// rows and whose parameter $typ holds the webhook event type ("" for none).
// It records each row's event and writes one delivery per subscribed
// endpoint and per status_callback_url, all in the caller's statement, so
// a status change, its event and its webhooks commit together in one round
// trip. The statement ends selecting the changed rows plus "deliveries", the
// ids of the deliveries written.
func fanOutSQL(typ, at, errCode, errMsg string) string {
	return `,
	ev AS (
		INSERT INTO message_events (message_id, sequence, status, error_code, error_message, created_at)
		SELECT id, sequence, status, NULLIF(` + errCode + `, ''), NULLIF(` + errMsg + `, ''), ` + at + ` FROM upd),
	tgt AS (
		SELECT upd.id AS message_id, upd.account_id, upd.sequence, e.id AS endpoint_id, e.url
		FROM upd JOIN webhook_endpoints e ON e.account_id = upd.account_id
		WHERE ` + typ + ` <> '' AND e.enabled AND (` + typ + ` = ANY(e.events) OR '*' = ANY(e.events))
		UNION ALL
		SELECT upd.id, upd.account_id, upd.sequence, NULL, upd.status_callback_url
		FROM upd WHERE ` + typ + ` <> '' AND upd.status_callback_url IS NOT NULL),
	dl AS (
		INSERT INTO webhook_deliveries (id, account_id, endpoint_id, url, event_type, message_id, sequence, created_at, next_attempt_at)
		SELECT gen_random_uuid(), account_id, endpoint_id, url, ` + typ + `, message_id, sequence, ` + at + `, ` + at + ` FROM tgt
		RETURNING id, message_id)
	SELECT ` + messageColumns + `, ARRAY(SELECT dl.id::text FROM dl WHERE dl.message_id = upd.id) FROM upd`
}
