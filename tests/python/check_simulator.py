"""Apple's official App Store Server Library (Python) against `storedesk apple-sim`.

Called by `.ci/python-check.sh`, which starts the simulator and passes what it printed. Every check prints one
line (`ok  - ...` or `FAIL - ...`); the last line is `python-check: N passed, M failed`. Exit status 1 on any failure.

Nothing here works around the library: verification runs with the library's own chain checks (X509_STRICT, Apple's
marker OIDs, ES256); only the online OCSP check is off, because the simulator's certificates name no OCSP responder.
"""

import argparse
import http.server
import json
import threading
import time
import traceback
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appstoreserverlibrary.api_client import (
    APIError,
    APIException,
    AppStoreServerAPIClient,
    GetTransactionHistoryVersion,
)
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.NotificationHistoryRequest import NotificationHistoryRequest
from appstoreserverlibrary.models.NotificationTypeV2 import NotificationTypeV2
from appstoreserverlibrary.models.OrderLookupStatus import OrderLookupStatus
from appstoreserverlibrary.models.SendAttemptResult import SendAttemptResult
from appstoreserverlibrary.models.TransactionHistoryRequest import Order, TransactionHistoryRequest
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException

DAY_MS = 86_400_000
PAGE_LIMIT = 20  # Apple: at most 20 items per page


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            self.failed += 1
            print(f"FAIL - {name}: {describe(e)}", flush=True)
            return None
        self.passed += 1
        print(f"ok   - {name}" + (f" ({detail})" if detail else ""), flush=True)
        return detail


def describe(e):
    """One line naming the exception and its causes, so a verifier rejection says why (e.g. the OpenSSL error)."""
    parts = []
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, APIException):
            parts.append(f"APIException(http {e.http_status_code}, errorCode {e.raw_api_error}, {e.error_message!r})")
        elif isinstance(e, VerificationException):
            parts.append(f"VerificationException({e.status.name})")
        elif isinstance(e, AssertionError):
            parts.append(f"assertion failed: {e}" if str(e) else "assertion failed: " + traceback.format_exc(limit=-1).strip().splitlines()[-2].strip())
        else:
            parts.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return " <- ".join(parts)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def put_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def post_json(url, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


class Receiver:
    """A one-endpoint HTTP server standing in for our notification URL."""

    def __init__(self):
        received = self.received = []
        event = self.event = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(body)
                event.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/apple/notifications"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True, help="simulator base URL, http://127.0.0.1:PORT")
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--issuer-id", required=True)
    ap.add_argument("--key-file", required=True, help="the .p8 the simulator issued")
    ap.add_argument("--root-cert", required=True, help="the simulator's root certificate (PEM)")
    args = ap.parse_args()

    checks = Checks()
    seed = fetch_json(f"{args.sim}/sim/seed")
    bundle_id = seed["bundle_id"]
    app_apple_id = seed["app_apple_id"]
    with open(args.key_file, "rb") as f:
        signing_key = f.read()
    with open(args.root_cert, "rb") as f:
        root_der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)

    def client(env, key_id=args.key_id, key=signing_key):
        c = AppStoreServerAPIClient(key, key_id, args.issuer_id, bundle_id, env)
        # The library picks Apple's host from the environment; the simulator serves each one under a prefix.
        expect(hasattr(c, "_base_url"), "the library no longer keeps its base URL in _base_url")
        c._base_url = f"{args.sim}/{'production' if env == Environment.PRODUCTION else 'sandbox'}"
        return c

    def verifier(env):
        return SignedDataVerifier([root_der], enable_online_checks=False, environment=env,
                                  bundle_id=bundle_id, app_apple_id=app_apple_id)

    sandbox, production = client(Environment.SANDBOX), client(Environment.PRODUCTION)
    v_sandbox, v_production = verifier(Environment.SANDBOX), verifier(Environment.PRODUCTION)

    def check_tx(v, signed, env, transaction_id=None, original_transaction_id=None):
        t = v.verify_and_decode_signed_transaction(signed)
        expect(t.bundleId == bundle_id, f"bundleId {t.bundleId!r} != {bundle_id!r}")
        expect(t.environment == env, f"environment {t.rawEnvironment!r} != {env.value!r}")
        expect(t.transactionId, "transactionId missing")
        expect(t.signedDate, "signedDate missing")
        if transaction_id is not None:
            expect(t.transactionId == transaction_id, f"transactionId {t.transactionId} != {transaction_id}")
        if original_transaction_id is not None:
            expect(t.originalTransactionId == original_transaction_id,
                   f"originalTransactionId {t.originalTransactionId} != {original_transaction_id}")
        return t

    def check_renewal(v, signed, env, original_transaction_id):
        r = v.verify_and_decode_renewal_info(signed)
        expect(r.environment == env, f"renewal environment {r.rawEnvironment!r} != {env.value!r}")
        expect(r.originalTransactionId == original_transaction_id,
               f"renewal originalTransactionId {r.originalTransactionId} != {original_transaction_id}")
        expect(r.autoRenewProductId, "renewal autoRenewProductId missing")
        return r

    active = seed["active_monthly"]

    # --- The chain itself: the verifier reads the leaf and intermediate with `cryptography`, a strict DER parser ---
    def chain_parses():
        import jwt  # PyJWT, a dependency of the library
        from base64 import b64decode
        signed = sandbox.get_transaction_info(active["transaction_id"]).signedTransactionInfo
        x5c = jwt.get_unverified_header(signed).get("x5c") or []
        expect(len(x5c) == 3, f"x5c holds {len(x5c)} certificates, Apple sends 3")
        for name, b64 in zip(("leaf (x5c[0])", "intermediate (x5c[1])", "root (x5c[2])"), x5c):
            try:
                cert = x509.load_der_x509_certificate(b64decode(b64, validate=True))
                [e.oid for e in cert.extensions]
            except Exception as e:
                raise AssertionError(f"the {name} certificate is rejected by cryptography: {e}") from None
        expect(b64decode(x5c[2]) == root_der, "x5c[2] is not the root the simulator printed")
        return "3 certificates, strict DER"
    checks.run("x5c chain parses with cryptography (strict DER, as the verifier reads it)", chain_parses)

    # --- Get Transaction Info -------------------------------------------------------------------------------------

    def transaction_info():
        resp = sandbox.get_transaction_info(active["transaction_id"])
        t = check_tx(v_sandbox, resp.signedTransactionInfo, Environment.SANDBOX,
                     active["transaction_id"], active["original_transaction_id"])
        return f"{t.productId}, verified"
    checks.run("get_transaction_info (sandbox) + verify_and_decode_signed_transaction", transaction_info)

    def transaction_info_production():
        resp = production.get_transaction_info(active["transaction_id"])
        t = check_tx(v_production, resp.signedTransactionInfo, Environment.PRODUCTION, active["transaction_id"])
        expect(t.appAccountToken is None or isinstance(t.appAccountToken, str), "appAccountToken has a bad type")
        return "verified with appAppleId"
    checks.run("get_transaction_info (production) + verify", transaction_info_production)

    def transaction_info_unknown():
        try:
            sandbox.get_transaction_info(seed["unknown_transaction_id"])
        except APIException as e:
            expect(e.http_status_code == 404, f"http {e.http_status_code}")
            expect(e.api_error == APIError.TRANSACTION_ID_NOT_FOUND, f"errorCode {e.raw_api_error}")
            return "404 4040010"
        raise AssertionError("no error for an unknown transaction id")
    checks.run("get_transaction_info of an unknown id -> APIException 404 TRANSACTION_ID_NOT_FOUND", transaction_info_unknown)

    # --- Get Transaction History v2, all pages ---------------------------------------------------------------------
    def history():
        original = seed["long_history_original_id"]
        want = seed["long_history_transaction_count"]
        request = TransactionHistoryRequest(sort=Order.ASCENDING)
        revision, pages, ids = None, 0, []
        while True:
            resp = sandbox.get_transaction_history(original, revision, request, GetTransactionHistoryVersion.V2)
            pages += 1
            expect(pages <= 10, "more than 10 pages: hasMore never turns false")
            expect(resp.bundleId == bundle_id, f"page bundleId {resp.bundleId!r}")
            expect(resp.appAppleId == app_apple_id, f"page appAppleId {resp.appAppleId}")
            expect(resp.environment == Environment.SANDBOX, f"page environment {resp.rawEnvironment!r}")
            page = resp.signedTransactions or []
            expect(len(page) <= PAGE_LIMIT, f"page of {len(page)} transactions (limit {PAGE_LIMIT})")
            for signed in page:
                ids.append(check_tx(v_sandbox, signed, Environment.SANDBOX).transactionId)
            if not resp.hasMore:
                break
            expect(resp.revision, "hasMore without a revision")
            revision = resp.revision
        expect(pages >= 2, f"the long history came in {pages} page(s)")
        expect(len(ids) == want, f"{len(ids)} transactions, seed says {want}")
        expect(len(set(ids)) == len(ids), "a transaction came back twice")
        expect(original in ids, "the original transaction is missing from its history")
        return f"{len(ids)} transactions in {pages} pages, all verified"
    checks.run("get_transaction_history V2, paging to the end + verify each", history)

    # --- Get All Subscription Statuses -----------------------------------------------------------------------------
    def statuses():
        resp = sandbox.get_all_subscription_statuses(active["transaction_id"])
        expect(resp.bundleId == bundle_id and resp.appAppleId == app_apple_id, "bundleId/appAppleId")
        expect(resp.environment == Environment.SANDBOX, f"environment {resp.rawEnvironment!r}")
        groups = {g.subscriptionGroupIdentifier: g for g in resp.data or []}
        expect(len(groups) >= 2, f"{len(groups)} subscription group(s), the seed has a customer in two")
        found = set()
        n = 0
        for g in groups.values():
            for item in g.lastTransactions or []:
                t = check_tx(v_sandbox, item.signedTransactionInfo, Environment.SANDBOX,
                             original_transaction_id=item.originalTransactionId)
                expect(t.subscriptionGroupIdentifier == g.subscriptionGroupIdentifier,
                       f"transaction in group {t.subscriptionGroupIdentifier} listed under {g.subscriptionGroupIdentifier}")
                check_renewal(v_sandbox, item.signedRenewalInfo, Environment.SANDBOX, item.originalTransactionId)
                expect(item.status is not None, f"unknown status {item.rawStatus}")
                found.add(item.originalTransactionId)
                n += 1
        for sub in (active, seed["active_second_group"]):
            expect(sub["original_transaction_id"] in found, f"subscription {sub['original_transaction_id']} missing")
        return f"{len(groups)} groups, {n} transactions + renewal infos verified"
    checks.run("get_all_subscription_statuses + verify_and_decode_renewal_info", statuses)

    # --- Get Refund History ----------------------------------------------------------------------------------------
    def refunds():
        revision, pages, seen = None, 0, []
        while True:
            resp = sandbox.get_refund_history(seed["refunded_consumable_transaction_id"], revision)
            pages += 1
            expect(pages <= 10, "hasMore never turns false")
            page = resp.signedTransactions
            expect(page is not None, "signedTransactions missing (Apple sends an empty array)")
            expect(len(page) <= PAGE_LIMIT, f"page of {len(page)}")
            for signed in page:
                t = check_tx(v_sandbox, signed, Environment.SANDBOX)
                expect(t.revocationDate, f"refunded transaction {t.transactionId} has no revocationDate")
                expect(t.revocationReason is not None, f"refunded transaction {t.transactionId} has no revocationReason")
                seen.append(t)
            if not resp.hasMore:
                break
            revision = resp.revision
        expect(seed["refunded_consumable_transaction_id"] in [t.transactionId for t in seen], "the refunded consumable is missing")
        dates = [t.revocationDate for t in seen]
        expect(dates == sorted(dates), "refunds are not in ascending revocationDate order")
        return f"{len(seen)} refund(s), verified"
    checks.run("get_refund_history + verify", refunds)

    # --- Look Up Order ID (production only: the sandbox has no order ids) -------------------------------------------
    def order_lookup():
        order_id, tx_ids = next((o, ids) for o, ids in seed["orders"].items() if len(ids) > 1)
        resp = production.look_up_order_id(order_id)
        expect(resp.status == OrderLookupStatus.VALID, f"status {resp.rawStatus}")
        got = [check_tx(v_production, s, Environment.PRODUCTION).transactionId for s in resp.signedTransactions or []]
        expect(sorted(got) == sorted(tx_ids), f"order {order_id}: {got} != {tx_ids}")
        return f"order {order_id}: {len(got)} transactions verified"
    checks.run("look_up_order_id (production) + verify", order_lookup)

    def order_lookup_unknown():
        resp = production.look_up_order_id(seed["unknown_order_id"])
        expect(resp.status == OrderLookupStatus.INVALID, f"status {resp.rawStatus}")
        expect(not resp.signedTransactions, "signedTransactions for an unknown order")
        return "200, status 1"
    checks.run("look_up_order_id of an unknown order -> status INVALID", order_lookup_unknown)

    def order_lookup_sandbox():
        resp = sandbox.look_up_order_id(seed["order_ids"][0])
        expect(resp.status == OrderLookupStatus.INVALID, f"status {resp.rawStatus}")
        return "status 1, as documented for the simulator's sandbox"
    checks.run("look_up_order_id (sandbox) -> status INVALID", order_lookup_sandbox)

    # --- App Transaction Info --------------------------------------------------------------------------------------
    def app_transaction():
        resp = sandbox.get_app_transaction_info(active["transaction_id"])
        a = v_sandbox.verify_and_decode_app_transaction(resp.signedAppTransactionInfo)
        expect(a.bundleId == bundle_id, f"bundleId {a.bundleId!r}")
        expect(a.receiptType == Environment.SANDBOX, f"receiptType {a.rawReceiptType!r}")
        return "verified"
    checks.run("get_app_transaction_info + verify_and_decode_app_transaction", app_transaction)

    # --- Get Notification History ----------------------------------------------------------------------------------
    def notification_history(api, v, env, window_days):
        now = int(time.time() * 1000)
        request = NotificationHistoryRequest(startDate=now - window_days * DAY_MS, endDate=now)
        token, pages, uuids, nested = None, 0, [], 0
        while True:
            resp = api.get_notification_history(token, request)
            pages += 1
            expect(pages <= 20, "hasMore never turns false")
            items = resp.notificationHistory or []
            expect(len(items) <= PAGE_LIMIT, f"page of {len(items)}")
            for item in items:
                n = v.verify_and_decode_notification(item.signedPayload)
                expect(n.notificationType is not None, f"unknown notificationType {n.rawNotificationType!r}")
                expect(n.version == "2.0", f"version {n.version!r}")
                expect(item.sendAttempts, f"notification {n.notificationUUID} has no sendAttempts")
                for a in item.sendAttempts:
                    expect(a.sendAttemptResult is not None, f"unknown sendAttemptResult {a.rawSendAttemptResult!r}")
                if n.data is not None:
                    expect(n.data.bundleId == bundle_id and n.data.environment == env, "notification data bundle/env")
                    if n.data.signedTransactionInfo:
                        check_tx(v, n.data.signedTransactionInfo, env)
                        nested += 1
                    if n.data.signedRenewalInfo:
                        r = v.verify_and_decode_renewal_info(n.data.signedRenewalInfo)
                        expect(r.environment == env, "nested renewal environment")
                        nested += 1
                uuids.append(n.notificationUUID)
            if not resp.hasMore:
                break
            expect(resp.paginationToken, "hasMore without a paginationToken")
            token = resp.paginationToken
        expect(uuids, "no notifications in the history")
        expect(len(set(uuids)) == len(uuids), "a notification came back twice")
        return f"{len(uuids)} notifications in {pages} page(s), {nested} nested JWS verified"

    checks.run("get_notification_history (production, 180 days) + verify_and_decode_notification",
               lambda: notification_history(production, v_production, Environment.PRODUCTION, 179))
    checks.run("get_notification_history (sandbox, 30 days) + verify_and_decode_notification",
               lambda: notification_history(sandbox, v_sandbox, Environment.SANDBOX, 29))

    # --- Request a Test Notification --------------------------------------------------------------------------------
    receiver = Receiver()
    try:
        def test_notification():
            expect(put_json(f"{args.sim}/sim/notification-url/sandbox", {"url": receiver.url}) in (200, 204),
                   "setting the sandbox notification URL")
            resp = sandbox.request_test_notification()
            expect(resp.testNotificationToken, "no testNotificationToken")
            expect(receiver.event.wait(15), "no notification reached the receiver within 15 s")
            body = json.loads(receiver.received[0])
            n = v_sandbox.verify_and_decode_notification(body["signedPayload"])
            expect(n.notificationType == NotificationTypeV2.TEST, f"type {n.rawNotificationType!r}")
            status = None
            for _ in range(50):
                try:
                    status = sandbox.get_test_notification_status(resp.testNotificationToken)
                except APIException as e:
                    if e.raw_api_error != 4040008:
                        raise
                if status and status.sendAttempts:
                    break
                time.sleep(0.1)
            expect(status is not None and status.sendAttempts, "the status never listed a send attempt")
            expect(status.sendAttempts[0].sendAttemptResult == SendAttemptResult.SUCCESS,
                   f"sendAttemptResult {status.sendAttempts[0].rawSendAttemptResult!r}")
            s = v_sandbox.verify_and_decode_notification(status.signedPayload)
            expect(s.notificationUUID == n.notificationUUID, "status payload is another notification")
            return f"TEST {n.notificationUUID} delivered, verified, status SUCCESS"
        checks.run("request_test_notification -> delivered + verified + get_test_notification_status", test_notification)
    finally:
        receiver.close()

    # --- Authentication failures ----------------------------------------------------------------------------------
    def expect_401(api):
        try:
            api.get_transaction_info(active["transaction_id"])
        except APIException as e:
            expect(e.http_status_code == 401, f"http {e.http_status_code}")
            expect(e.raw_api_error is None, f"a 401 carries errorCode {e.raw_api_error}; Apple sends none")
            return "401, no errorCode"
        raise AssertionError("the call succeeded")

    wrong_kid = "ZZ" + args.key_id[2:] if not args.key_id.startswith("ZZ") else "YY" + args.key_id[2:]
    checks.run("a wrong key id -> APIException 401", lambda: expect_401(client(Environment.SANDBOX, key_id=wrong_kid)))

    def revoked_key():
        issued = post_json(f"{args.sim}/sim/keys")
        fresh = client(Environment.SANDBOX, key_id=issued["keyId"], key=issued["privateKey"].encode())
        fresh.get_transaction_info(active["transaction_id"])  # works before the revocation
        post_json(f"{args.sim}/sim/keys/{issued['keyId']}/revoke")
        return expect_401(fresh)
    checks.run("a key that worked, once revoked -> APIException 401", revoked_key)

    print(f"python-check: {checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
