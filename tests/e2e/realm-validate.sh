#!/usr/bin/env bash
# e2e: a real throwaway KDC and kw_accept: valid tokens, replays, garbage, a rotated service key.
#
# usage: realm-validate.sh /path/to/realm-validate-tool
# Runs its own realm (own AUTHGATE_REALM_DIR) with the KDC in its own network namespace, so
# it cannot collide with a lab realm. Exit 77 (skip) only when not root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root to run a KDC in a network namespace"
	exit 77
fi
tool=$(realpath "${1:?usage: realm-validate.sh TOOL}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/authgate-rv.XXXXXX)
ns=authgate-rv$$
export AUTHGATE_REALM_DIR=$work/realm AUTHGATE_REALM_NETNS=$ns AUTHGATE_REALM_USERS=8

cleanup()
{
	"$root/scripts/realm" down || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fails=0
check()
{
	local what=$1 pattern=$2 out=$3
	if grep -qE -- "$pattern" <<<"$out"; then
		echo "ok   - $what"
	else
		echo "FAIL - $what: wanted /$pattern/ in:"
		sed 's/^/       /' <<<"$out"
		fails=$((fails + 1))
	fi
}

ip netns add "$ns"
"$root/scripts/realm" up
eval "$("$root/scripts/realm" env)"
kt=$AUTHGATE_REALM_DIR/http.keytab

mint()
{
	ip netns exec "$ns" /usr/bin/python3 "$here/realm-mint.py" "$@"
}
validate()
{
	"$tool" --keytab "$kt" "$@" || true
}

# 1. valid SPNEGO and raw krb5 tokens: principal, reply token, an expiry
t_spnego=$(mint --mech spnego --user user1)
t_krb5=$(mint --mech krb5 --user user2)
out=$(printf '%s\n%s\n' "$t_spnego" "$t_krb5" | validate)
check "SPNEGO token accepted as user1" \
	'^token=0 reason=ok http=200 principal=user1@AUTHGATE.TEST reply_len=[1-9][0-9]* expires=20' "$out"
check "raw krb5 token accepted as user2" \
	'^token=1 reason=ok http=200 principal=user2@AUTHGATE.TEST reply_len=[1-9]' "$out"

# 2. replays: the same tokens again (the file replay cache outlives the process)
out=$(printf '%s\n%s\n' "$t_spnego" "$t_krb5" | validate)
check "replayed SPNEGO token refused (rcache on)" '^token=0 reason=replay http=401' "$out"
check "replayed krb5 token refused (rcache on)" '^token=1 reason=replay http=401' "$out"
t=$(mint --mech spnego --user user3)
out=$(printf '%s\n%s\n' "$t" "$t" | validate)
check "replay within one validator refused" '^token=1 reason=replay' "$out"
t=$(mint --mech spnego --user user3)
out=$(printf '%s\n%s\n' "$t" "$t" | validate --no-rcache)
check "first use accepted with rcache off" '^token=0 reason=ok' "$out"
check "replay accepted with rcache off" '^token=1 reason=ok .*principal=user3@AUTHGATE.TEST' "$out"

# 3. garbage, truncation, NTLM: refused with a reason, no crash
t_ntlm=$(mint --mech spnego-ntlm --user user1)
out=$(printf '%s\n%s\n%s\n' "Z2FyYmFnZSBhbmQgbW9yZSBnYXJiYWdl" "${t_spnego:0:200}" "$t_ntlm" |
	validate)
check "garbage refused as malformed" '^token=0 reason=malformed-token http=401' "$out"
check "truncated token refused as malformed" '^token=1 reason=malformed-token http=401' "$out"
check "NTLM inside SPNEGO refused as another mechanism" \
	'^token=2 reason=unsupported-mechanism http=401' "$out"

# 4. mutual authentication: the client accepts the reply token we produce
for m in krb5 spnego; do
	out=$(ip netns exec "$ns" /usr/bin/python3 "$here/realm-mutual.py" "$tool" "$kt" "$m" 2>&1 ||
		true)
	check "client completes mutual auth with our $m reply" "^mutual $m: client accepted" "$out"
done

# 5. the worker pool, through the trust's semaphore (2 slots, 2 workers)
toks=$(for i in 1 2 3 4 5 6; do mint --mech spnego --user "user$i" --count 4; done)
out=$(validate --pool 2 <<<"$toks")
check "pool validated 24 distinct tokens" '^pool completed=24 ok=24$' "$out"

# 6. a ticket minted before the service key changed fails against the new keytab
t_old=$(mint --mech spnego --user user5)
kadmin.local -r AUTHGATE.TEST -q "cpw -randkey HTTP/gw.authgate.test" >/dev/null
kadmin.local -r AUTHGATE.TEST -q "ktadd -norandkey -k $work/http-new.keytab HTTP/gw.authgate.test" \
	>/dev/null
t_new=$(mint --mech spnego --user user5)
out=$(printf '%s\n%s\n' "$t_old" "$t_new" | "$tool" --keytab "$work/http-new.keytab" || true)
check "old ticket refused after the key change" \
	'^token=0 reason=(key-version-mismatch|integrity-check-failed|no-service-key) http=401' "$out"
check "new ticket accepted with the new keytab" '^token=1 reason=ok .*principal=user5@' "$out"
out=$(printf '%s\n' "$t_new" | "$tool" --keytab "$kt" --no-rcache || true)
check "new ticket refused by the old keytab" \
	'^token=0 reason=(key-version-mismatch|integrity-check-failed|no-service-key) http=401' "$out"

if [ "$fails" -ne 0 ]; then
	echo "realm-validate: $fails check(s) failed"
	exit 1
fi
echo "realm-validate: all checks passed"
