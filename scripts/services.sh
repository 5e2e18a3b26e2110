#!/usr/bin/env bash
# scripts/services.sh — install and run the real services spine's tests use:
#   Kafka 4.x twice (KRaft, single combined broker+controller node, jars from Maven Central):
#     kafka       PLAINTEXT, no authorizer (the transports' tests);
#     kafka-sasl  SASL_PLAINTEXT/PLAIN on both listeners, StandardAuthorizer, super user
#                 admin (the ACL enforcement tests of package acl);
#   Redis (Debian package, AOF on), PostgreSQL (Debian package), and kcat;
#   Keycloak (the keycloak-quarkus-dist zip from Maven Central, `kc.sh start-dev`,
#     dev-file database) with realm spine imported at start: a confidential client
#     with service accounts per catalog service the tests act as, an audience
#     mapper adding "spine" (the OIDC issuer of the service-token tests).
# Everything listens on 127.0.0.1 only. See docs/operations/services.md.
#
# Usage: scripts/services.sh up|down|status|env|reset|restart SERVICE
#   up      install what is missing, start what is not running, wait until ready,
#           then print the export lines of `env` on stdout (eval-able).
#   down    stop all services cleanly (data is kept; but the Kafka brokers
#           start on empty storage at the next `up`: they are test fixtures).
#   status  one line per service; exit status 1 if any is down.
#   env     print the export lines tests use: eval "$(scripts/services.sh env)"
#   reset   down, then delete all service data (the downloaded jars are kept).
#   restart SERVICE   stop kafka, kafka-sasl, redis, postgres or keycloak and start
#           it again (data kept): the broker-restart tests use it.
#
# Progress goes to stderr, one short line per step; only `env`/`up` write stdout.
set -euo pipefail

# ---------------------------------------------------------------- settings
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
STATE="${SPINE_SERVICES_DIR:-$HOME/.cache/spine-services}"
KAFKA_VERSION="${SPINE_KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION="${SPINE_LOG4J_VERSION:-2.24.3}"
KAFKA_PORT="${SPINE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SPINE_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP="${SPINE_KAFKA_HEAP:-512m}"
KAFKA_SASL_PORT="${SPINE_KAFKA_SASL_PORT:-19094}"
KAFKA_SASL_CONTROLLER_PORT="${SPINE_KAFKA_SASL_CONTROLLER_PORT:-19095}"
# kafka-sasl's second client listener: SASL over TLS, with a certificate of a
# test CA made by this script (openssl), so clients test TLS against Kafka.
KAFKA_SASL_TLS_PORT="${SPINE_KAFKA_SASL_TLS_PORT:-19096}"
KAFKA_TLS_PASS="spine-test" # the PKCS#12 keystore's password (test material)
KAFKA_SASL_HEAP="${SPINE_KAFKA_SASL_HEAP:-256m}"
# SASL/PLAIN users of kafka-sasl, each with the password <user>-secret: admin (the
# super user, also the broker's own inter-broker and controller identity) and the
# catalog services acl/enforce_test.go acts as (its serviceUsers).
KAFKA_SASL_ADMIN="admin"
KAFKA_SASL_USERS=("$KAFKA_SASL_ADMIN" crm-service erp-service analytics-service spine-admin)
REDIS_PORT="${SPINE_REDIS_PORT:-16379}"
POSTGRES_PORT="${SPINE_POSTGRES_PORT:-15432}"
START_TIMEOUT="${SPINE_SERVICES_TIMEOUT:-120}" # seconds to wait for each service
KEYCLOAK_VERSION="${SPINE_KEYCLOAK_VERSION:-25.0.6}"
KEYCLOAK_PORT="${SPINE_KEYCLOAK_PORT:-18080}"
# Keycloak 25 also opens a management interface (default port 9000, too common).
KEYCLOAK_MANAGEMENT_PORT="${SPINE_KEYCLOAK_MANAGEMENT_PORT:-18081}"
KEYCLOAK_HEAP="${SPINE_KEYCLOAK_HEAP:-768m}"
# Keycloak's first start (augmentation, schema, import): ~35 s on an idle 2-core
# machine, over 2 min on a busy one.
KEYCLOAK_TIMEOUT="${SPINE_KEYCLOAK_TIMEOUT:-300}"
KEYCLOAK_REALM=spine
# The realm's confidential clients (service accounts, client_credentials grant):
# the catalog services the token and bus tests act as.
KEYCLOAK_CLIENTS=(crm-service erp-service analytics-service)
HOST=127.0.0.1

# The jar cache, shared by both Kafka instances; each instance's own files
# (config, data, logs, pid) are in $STATE/<instance> (see kafka_select).
KAFKA_DIST="$STATE/kafka/dist-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_DIST/libs"
REDIS_DIR="$STATE/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
PG_ROOT="$STATE/postgres"
PG_DATA="$PG_ROOT/data"
PG_RUN="$PG_ROOT/run"
PG_LOG="$PG_ROOT/postgres.log"
# Keycloak: the unzipped dist (cache, kept by reset; its data/import holds the
# generated realm file) and, beside it, this state's database, secrets, log, pid.
KC_DIR="$STATE/keycloak"
KC_DIST="$KC_DIR/dist-$KEYCLOAK_VERSION"
KC_HOME="$KC_DIST/keycloak-$KEYCLOAK_VERSION"
KC_DATA="$KC_DIR/data"
KC_PID="$KC_DIR/keycloak.pid"
KC_LOG="$KC_DIR/keycloak.log"
KC_CLIENTS_FILE="$KC_DIR/clients.json"
KC_ADMIN_FILE="$KC_DIR/admin.password"
KC_ISSUER="http://$HOST:$KEYCLOAK_PORT/realms/$KEYCLOAK_REALM"
KC_JWKS="$KC_ISSUER/protocol/openid-connect/certs"

PROG="services.sh"
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
# show_tail FILE [LINES]: copy the end of a log to stderr, framed.
show_tail() {
	[[ -s "$1" ]] || return 0
	printf '%s: --- last lines of %s ---\n' "$PROG" "$1" >&2
	tail -n "${2:-30}" "$1" >&2 || true
	printf '%s: --- end of %s ---\n' "$PROG" "$1" >&2
}
# die_log FILE MESSAGE: fail and show the end of a service log.
die_log() {
	local f="$1"; shift
	printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
	show_tail "$f"
	exit 1
}

print_env() {
	echo "export SPINE_TEST_KAFKA=$HOST:$KAFKA_PORT"
	echo "export SPINE_TEST_KAFKA_SASL=$HOST:$KAFKA_SASL_PORT"
	echo "export SPINE_TEST_KAFKA_SASL_TLS=$HOST:$KAFKA_SASL_TLS_PORT"
	echo "export SPINE_TEST_KAFKA_TLS_CA=$STATE/kafka-sasl/tls/ca.pem"
	echo "export SPINE_TEST_REDIS=$HOST:$REDIS_PORT"
	echo "export SPINE_TEST_POSTGRES=postgres://spine:spine@$HOST:$POSTGRES_PORT/spine?sslmode=disable"
	echo "export SPINE_TEST_KEYCLOAK=$KC_ISSUER"
	echo "export SPINE_TEST_KEYCLOAK_CLIENT_ID=${KEYCLOAK_CLIENTS[0]}"
	# The secrets exist once `up` has started Keycloak; without them the tests
	# fail under SPINE_REQUIRE_SERVICES=1 (and skip otherwise).
	local secret
	if secret="$(kc_secret "${KEYCLOAK_CLIENTS[0]}")" && [[ -n "$secret" ]]; then
		printf 'export SPINE_TEST_KEYCLOAK_CLIENT_SECRET=%q\n' "$secret"
		printf 'export SPINE_TEST_KEYCLOAK_CLIENTS_FILE=%q\n' "$KC_CLIENTS_FILE"
	fi
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

port_owner() { ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1; }

# pid_matches PIDFILE TEXT: the pid in PIDFILE is alive and its command line contains TEXT
# (so a pid reused by an unrelated process after a crash does not count).
pid_matches() {
	local pidfile="$1" text="$2" pid
	[[ -s "$pidfile" ]] || return 1
	pid="$(head -n1 "$pidfile" | tr -dc '0-9')"
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$text"
}
pid_of() { head -n1 "$1" 2>/dev/null | tr -dc '0-9'; }

# stop_process NAME PIDFILE RUNNING SECONDS [group]: how every service
# started from its pid file stops: SIGTERM (to the process group with
# "group"), SIGKILL if it is still there after SECONDS; the pid file goes.
stop_process() {
	local name=$1 pidf=$2 running=$3 secs=$4 target pid
	if ! "$running"; then
		[[ -e "$pidf" ]] && rm -f "$pidf"
		log "$name already stopped"
		return 0
	fi
	pid="$(pid_of "$pidf")"
	target=$pid
	[[ "${5:-}" == group ]] && target="-$pid"
	log "$name: stopping (pid $pid)"
	kill -TERM -- "$target" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	if ! wait_pid_exit "$pid" "$secs"; then
		log "$name: pid $pid did not stop within ${secs}s; killing it"
		kill -KILL -- "$target" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		wait_pid_exit "$pid" 10 || die "$name: could not kill pid $pid"
	fi
	rm -f "$pidf"
}

# wait_pid_exit PID SECONDS: wait until the process is gone.
wait_pid_exit() {
	local pid="$1" i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- installs
APT_UPDATED=0
apt_install() { # apt_install PKG...: install Debian packages that are missing
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	local sudo=()
	if ! is_root; then
		command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install ${missing[*]}"
		sudo=(sudo -n)
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ((APT_UPDATED == 0)); then
		log "apt-get update"
		"${sudo[@]}" apt-get -q update </dev/null >"$STATE/apt.log" 2>&1 || die_log "$STATE/apt.log" "apt-get update failed"
		APT_UPDATED=1
	fi
	# Keep the packages from starting their own system services (e.g. redis on 6379).
	local policy=/usr/sbin/policy-rc.d added_policy=0
	if is_root && [[ ! -e "$policy" ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
	fi
	log "apt-get install ${missing[*]}"
	local rc=0
	"${sudo[@]}" apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold install "${missing[@]}" </dev/null >>"$STATE/apt.log" 2>&1 || rc=$?
	((added_policy)) && rm -f "$policy"
	((rc == 0)) || die_log "$STATE/apt.log" "apt-get install ${missing[*]} failed"
}

ensure_kcat() {
	if ! command -v kcat >/dev/null 2>&1; then
		command -v kafkacat >/dev/null 2>&1 || apt_install kafkacat
		if ! command -v kcat >/dev/null 2>&1; then
			local kc
			kc="$(command -v kafkacat)" || die "package kafkacat installed but neither kcat nor kafkacat is on PATH"
			is_root || die "only kafkacat found; link it as kcat (ln -s $kc /usr/local/bin/kcat)"
			ln -sf "$kc" /usr/local/bin/kcat
			log "linked /usr/local/bin/kcat -> $kc"
		fi
	fi
	KCAT="$(command -v kcat)"
}

JAVA=""
ensure_java() {
	local j="" v
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then j="$JAVA_HOME/bin/java"; fi
	[[ -n "$j" ]] || j="$(command -v java || true)"
	if [[ -z "$j" ]]; then
		apt_install openjdk-17-jre-headless
		j="$(command -v java)" || die "java not found after installing openjdk-17-jre-headless"
	fi
	v="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
	[[ "${v:-0}" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, but $j is version '${v:-unknown}' (set JAVA_HOME)"
	JAVA="$j"
}

# Resolve kafka_2.13 and its runtime dependencies from Maven Central into $KAFKA_LIBS (once).
# kafka and kafka-sasl start in parallel: one resolves, the other waits for it (fd 8).
ensure_kafka_jars() {
	[[ -f "$KAFKA_LIBS/.complete" ]] && return 0
	local build="$KAFKA_DIST"
	mkdir -p "$build"
	exec 8>"$build/.lock"
	flock -w 600 8 || die "another services.sh has been resolving the Kafka jars for 10 minutes ($build/.lock)"
	if [[ -f "$KAFKA_LIBS/.complete" ]]; then
		exec 8>&-
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || apt_install maven
	rm -rf "$KAFKA_LIBS"
	cat >"$build/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/services.sh: runtime classpath of a Kafka $KAFKA_VERSION broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.spine</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- slf4j bindings for log4j2, for slf4j 1.x and 2.x: the script keeps the one
         that matches the slf4j-api version Kafka asks for and deletes the other. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
      <exclusions><exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId></exclusion></exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version>
      <exclusions><exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId></exclusion></exclusions>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>2.8</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
	log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with Maven"
	local mvnlog="$build/mvn.log"
	local repo=()
	[[ -n "${SPINE_MAVEN_REPO:-}" ]] && repo=("-Dmaven.repo.local=$SPINE_MAVEN_REPO")
	if ! (cd "$build" && mvn -B -ntp "${repo[@]}" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" </dev/null >"$mvnlog" 2>&1); then
		die_log "$mvnlog" "Maven could not resolve the Kafka $KAFKA_VERSION jars"
	fi
	ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 ||
		die_log "$mvnlog" "kafka_2.13-$KAFKA_VERSION.jar missing from $KAFKA_LIBS after Maven ran"
	# Both bindings ship org.apache.logging.slf4j classes, so exactly one may stay.
	if compgen -G "$KAFKA_LIBS/slf4j-api-2.*.jar" >/dev/null; then
		rm -f "$KAFKA_LIBS"/log4j-slf4j-impl-*.jar
	else
		rm -f "$KAFKA_LIBS"/log4j-slf4j2-impl-*.jar
	fi
	touch "$KAFKA_LIBS/.complete"
	log "kafka jars ready: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
	exec 8>&-
}

# ---------------------------------------------------------------- kafka
# Two instances run from the same jars: kafka (PLAINTEXT, no authorizer) and
# kafka-sasl (SASL_PLAINTEXT/PLAIN on the broker and the controller listener,
# StandardAuthorizer). kafka_select points the K_* variables at one of them;
# every kafka_* function below works on the selected instance.
KAFKA_INSTANCES=(kafka kafka-sasl)
kafka_select() { # kafka_select NAME
	case "$1" in
	kafka)
		K_PORT="$KAFKA_PORT" K_CPORT="$KAFKA_CONTROLLER_PORT" K_HEAP="$KAFKA_HEAP" K_SASL=0
		K_PORTS=("$K_PORT" "$K_CPORT")
		K_PORT_VARS="SPINE_KAFKA_PORT/SPINE_KAFKA_CONTROLLER_PORT"
		;;
	kafka-sasl)
		K_PORT="$KAFKA_SASL_PORT" K_CPORT="$KAFKA_SASL_CONTROLLER_PORT" K_HEAP="$KAFKA_SASL_HEAP" K_SASL=1
		K_PORTS=("$K_PORT" "$K_CPORT" "$KAFKA_SASL_TLS_PORT")
		K_PORT_VARS="SPINE_KAFKA_SASL_PORT/SPINE_KAFKA_SASL_CONTROLLER_PORT/SPINE_KAFKA_SASL_TLS_PORT"
		;;
	*) die "unknown kafka instance '$1' (${KAFKA_INSTANCES[*]})" ;;
	esac
	K_NAME="$1"
	K_DIR="$STATE/$1"
	K_DATA="$K_DIR/data"
	K_LOGS="$K_DIR/logs"
	K_PID="$K_DIR/kafka.pid"
	K_TLS="$K_DIR/tls"
}

# ensure_kafka_tls: the selected instance's test CA (ca.pem) and a broker
# certificate for $HOST signed by it, as a PKCS#12 keystore; made once, kept
# by reset (clients may have the CA configured).
ensure_kafka_tls() {
	[[ -f "$K_TLS/broker.p12" && -f "$K_TLS/ca.pem" ]] && return 0
	log "$K_NAME: making a test CA and a broker certificate for $HOST in $K_TLS (openssl)"
	mkdir -p "$K_TLS"
	local ext="$K_TLS/broker.ext"
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$HOST" >"$ext"
	{
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
			-subj "/CN=spine test CA" -keyout "$K_TLS/ca.key" -out "$K_TLS/ca.pem" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
				-keyout "$K_TLS/broker.key" -out "$K_TLS/broker.csr" &&
			openssl x509 -req -in "$K_TLS/broker.csr" -CA "$K_TLS/ca.pem" -CAkey "$K_TLS/ca.key" -CAcreateserial \
				-days 3650 -extfile "$ext" -out "$K_TLS/broker.crt" &&
			openssl pkcs12 -export -in "$K_TLS/broker.crt" -inkey "$K_TLS/broker.key" -certfile "$K_TLS/ca.pem" \
				-name broker -passout "pass:$KAFKA_TLS_PASS" -out "$K_TLS/broker.p12.tmp" &&
			mv "$K_TLS/broker.p12.tmp" "$K_TLS/broker.p12"
	} >"$K_TLS/openssl.log" 2>&1 || die_log "$K_TLS/openssl.log" "$K_NAME: making the test certificates failed"
	chmod 600 "$K_TLS/ca.key" "$K_TLS/broker.key"
}

# kcat_auth: the kcat options that log in as the admin on the selected instance.
kcat_auth() {
	((K_SASL)) || return 0
	printf '%s\n' -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN \
		-X "sasl.username=$KAFKA_SASL_ADMIN" -X "sasl.password=$KAFKA_SASL_ADMIN-secret"
}
kafka_ready() {
	[[ -n "${KCAT:-}" ]] || return 1
	local auth=()
	mapfile -t auth < <(kcat_auth)
	timeout 10 "$KCAT" -L -b "$HOST:$K_PORT" -m 3 "${auth[@]}" >/dev/null 2>&1
}
kafka_running() { pid_matches "$K_PID" "kafka.Kafka $K_DIR/server.properties"; }

write_kafka_config() {
	mkdir -p "$K_DATA" "$K_LOGS"
	local listeners
	if ((K_SASL)); then
		listeners="listeners=SASL_PLAINTEXT://$HOST:$K_PORT,SASL_SSL://$HOST:$KAFKA_SASL_TLS_PORT,CONTROLLER://$HOST:$K_CPORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$K_PORT,SASL_SSL://$HOST:$KAFKA_SASL_TLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
	else
		listeners="listeners=PLAINTEXT://$HOST:$K_PORT,CONTROLLER://$HOST:$K_CPORT
advertised.listeners=PLAINTEXT://$HOST:$K_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	fi
	cat >"$K_DIR/server.properties" <<EOF
# Generated by scripts/services.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$K_CPORT
$listeners
log.dirs=$K_DATA
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
EOF
	if ((K_SASL)); then
		# One JAAS entry per listener: the broker authenticates clients against the
		# user_<name> entries and logs in to itself and to the controller as the admin.
		# The controller listener authenticates too: under KRaft clients may send it
		# admin requests (CreateAcls included), see acl/doc.go.
		local jaas u
		jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$KAFKA_SASL_ADMIN\" password=\"$KAFKA_SASL_ADMIN-secret\""
		for u in "${KAFKA_SASL_USERS[@]}"; do jaas+=" user_$u=\"$u-secret\""; done
		jaas+=";"
		# The client listeners also take OAUTHBEARER: a Keycloak service token
		# (client credentials) is the login, validated against the realm's JWKS;
		# the principal is the token's azp claim, the client id (User:crm-service),
		# so the catalog's ACLs apply to it as to the PLAIN user of that name. The
		# controller listener stays PLAIN only. SASL_SSL is the same over TLS.
		local l client_listeners=""
		for l in sasl_plaintext sasl_ssl; do
			client_listeners+="listener.name.$l.sasl.enabled.mechanisms=PLAIN,OAUTHBEARER
listener.name.$l.plain.sasl.jaas.config=$jaas
listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.$l.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
"
		done
		cat >>"$K_DIR/server.properties" <<EOF
sasl.enabled.mechanisms=PLAIN
${client_listeners}listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$K_TLS/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$KAFKA_TLS_PASS
listener.name.sasl_ssl.ssl.key.password=$KAFKA_TLS_PASS
sasl.oauthbearer.jwks.endpoint.url=$KC_JWKS
sasl.oauthbearer.expected.issuer=$KC_ISSUER
sasl.oauthbearer.expected.audience=spine
sasl.oauthbearer.sub.claim.name=azp
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=$jaas
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$KAFKA_SASL_ADMIN
allow.everyone.if.no.acl.found=false
EOF
	fi
	cat >"$K_DIR/log4j2.properties" <<EOF
# Generated by scripts/services.sh.
status = warn
name = spine-$K_NAME
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $K_LOGS/server.log
appender.file.filePattern = $K_LOGS/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# begin_start NAME PIDFILE RUNNING READY HINT PORT...: how every service's
# start begins. Returns 0 when NAME is up (nothing to do), 1 when its process
# runs but does not answer yet (the caller waits for it), 2 when it must be
# started: a stale pid file is removed and its ports are checked free (HINT
# names the variables that move them).
begin_start() {
	local name=$1 pidf=$2 running=$3 ready=$4 hint=$5 port
	shift 5
	if "$running"; then
		if "$ready"; then
			log "$name already up on $HOST:$1 (pid $(pid_of "$pidf"))"
			return 0
		fi
		log "$name process $(pid_of "$pidf") is running but not answering yet; waiting"
		return 1
	fi
	if [[ -e "$pidf" ]]; then
		log "$name: removing stale pid file (no $name of ours runs as pid $(pid_of "$pidf"))"
		rm -f "$pidf"
	fi
	for port in "$@"; do
		if port_open "$port"; then
			die "$name: port $HOST:$port is already in use by another process ($(port_owner "$port")); stop it or set $hint"
		fi
	done
	return 2
}

# kafka_up NAME [keep]: start the instance if it is not running. A cold start
# begins on empty storage unless "keep" (restart) is given: the test brokers
# hold only what tests create, tests delete their namespaces, and a broker
# that kept every interrupted run's topics (thousands of partitions) takes
# minutes to load them at start (CI once timed out on exactly that).
kafka_up() {
	kafka_select "$1"
	local keep="${2:-}"
	ensure_kcat
	local extra=""
	if ((K_SASL)); then extra=", SASL_PLAINTEXT/PLAIN, StandardAuthorizer, super user $KAFKA_SASL_ADMIN"; fi
	local rc=0
	begin_start "$K_NAME" "$K_PID" kafka_running kafka_ready "$K_PORT_VARS" "${K_PORTS[@]}" || rc=$?
	((rc == 0)) && return 0
	if ((rc == 2)); then
		ensure_java
		ensure_kafka_jars
		local sysprops=()
		if ((K_SASL)); then
			# Kafka reads the JWKS when it starts and fails to start without it:
			# Keycloak (started in parallel by up) must answer first. Kafka 4.1
			# fetches only allow-listed OAUTHBEARER URLs.
			local kc_deadline=$((SECONDS + KEYCLOAK_TIMEOUT))
			until kc_ready; do
				((SECONDS < kc_deadline)) || die "$K_NAME: keycloak did not answer at $KC_ISSUER within ${KEYCLOAK_TIMEOUT}s; the broker validates OAUTHBEARER logins against its JWKS"
				sleep 1
			done
			sysprops+=("-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=$KC_JWKS")
			ensure_kafka_tls
		fi
		if [[ "$keep" != keep && -d "$K_DATA" ]]; then
			log "$K_NAME: starting on empty storage (dropping $(find "$K_DATA" -mindepth 1 -maxdepth 1 -type d | wc -l) partition dirs of earlier runs; restart keeps data)"
			rm -rf "$K_DATA"
		fi
		write_kafka_config
		local cp="$KAFKA_LIBS/*"
		if [[ ! -f "$K_DATA/meta.properties" ]]; then
			# A cluster id beginning with "-" would be read as an option (Kafka's own
			# Uuid.randomUuid avoids those too), so draw until it does not.
			local cid="-"
			while [[ "$cid" == -* ]]; do
				cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
			done
			log "$K_NAME: formatting storage in $K_DATA (cluster id $cid)"
			"$JAVA" -Xmx256m -Dlog4j2.configurationFile="$K_DIR/log4j2.properties" -Dkafka.logs.dir="$K_LOGS" \
				-cp "$cp" kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$K_DIR/server.properties" \
				</dev/null >"$K_LOGS/format.log" 2>&1 || die_log "$K_LOGS/format.log" "$K_NAME: storage format failed"
		fi
		log "$K_NAME: starting $KAFKA_VERSION (KRaft broker+controller) on $HOST:$K_PORT"
		local pid
		# setsid: own session, so it outlives the calling shell and its process group.
		setsid "$JAVA" -Xms256m -Xmx"$K_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
			-Djava.awt.headless=true -Dkafka.logs.dir="$K_LOGS" "${sysprops[@]}" \
			-Dlog4j2.configurationFile="$K_DIR/log4j2.properties" \
			-cp "$cp" kafka.Kafka "$K_DIR/server.properties" \
			</dev/null >>"$K_LOGS/kafka.out" 2>&1 8>&- 9>&- &
		pid=$!
		echo "$pid" >"$K_PID"
	fi
	local deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		kafka_ready && { log "$K_NAME up on $HOST:$K_PORT (pid $(pid_of "$K_PID")$extra)"; return 0; }
		if ! kafka_running; then
			rm -f "$K_PID"
			show_tail "$K_LOGS/kafka.out" 10
			die_log "$K_LOGS/server.log" "$K_NAME exited during startup (logs: $K_LOGS)"
		fi
		sleep 0.5
	done
	kafka_stop "$K_NAME" >/dev/null 2>&1 || true
	die_log "$K_LOGS/server.log" "$K_NAME did not answer on $HOST:$K_PORT within ${START_TIMEOUT}s; stopped it"
}

kafka_stop() { # kafka_stop NAME
	kafka_select "$1"
	stop_process "$K_NAME" "$K_PID" kafka_running 60
}

# ---------------------------------------------------------------- redis
redis_ready() {
	command -v redis-cli >/dev/null 2>&1 &&
		[[ "$(timeout 5 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}
redis_running() { pid_matches "$REDIS_PID" 'redis-server'; }

redis_up() {
	local rc=0
	begin_start redis "$REDIS_PID" redis_running redis_ready SPINE_REDIS_PORT "$REDIS_PORT" || rc=$?
	((rc == 0)) && return 0
	if ((rc == 2)); then
		if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
			apt_install redis-server redis-tools
		fi
		mkdir -p "$REDIS_DIR/data"
		cat >"$REDIS_DIR/redis.conf" <<EOF
# Generated by scripts/services.sh on every start; edits are overwritten.
bind $HOST
port $REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile "$REDIS_PID"
logfile "$REDIS_LOG"
dir "$REDIS_DIR/data"
appendonly yes
appendfsync everysec
save ""
EOF
		log "redis: starting on $HOST:$REDIS_PORT (AOF in $REDIS_DIR/data)"
		redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_LOG" 2>&1 9>&- ||
			die_log "$REDIS_LOG" "redis-server failed to start"
	fi
	local i deadline=$((SECONDS + START_TIMEOUT))
	for ((i = 0; SECONDS < deadline; i++)); do
		redis_ready && { log "redis up on $HOST:$REDIS_PORT (pid $(pid_of "$REDIS_PID"))"; return 0; }
		if ((i > 10)) && ! redis_running; then
			die_log "$REDIS_LOG" "redis exited during startup"
		fi
		sleep 0.2
	done
	die_log "$REDIS_LOG" "redis did not answer PING on $HOST:$REDIS_PORT within ${START_TIMEOUT}s"
}

# redis flushes the AOF and exits on SIGTERM.
redis_stop() { stop_process redis "$REDIS_PID" redis_running 30; }

# ---------------------------------------------------------------- postgres
PG_BIN=""
find_pg_bin() {
	local d
	for d in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -rn); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then PG_BIN="$d"; return 0; fi
	done
	return 1
}

# as_pg CMD...: run as the postgres system user when we are root (the server refuses root).
as_pg() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg_ready() {
	[[ -n "$PG_BIN" ]] || find_pg_bin || return 1
	"$PG_BIN/pg_isready" -q -h "$HOST" -p "$POSTGRES_PORT" -t 2 >/dev/null 2>&1
}
pg_running() { pid_matches "$PG_DATA/postmaster.pid" "postgres -D $PG_DATA"; }

# The postgres user must be able to reach $PG_ROOT: add the traverse (x) bit on
# ancestors that lack it (e.g. /root is 0700). This does not allow listing them.
pg_fix_path_access() {
	is_root || return 0
	local d="$PG_ROOT" dirs=()
	while [[ "$d" != "/" && -n "$d" ]]; do
		d="$(dirname "$d")"
		dirs=("$d" "${dirs[@]}")
	done
	for d in "${dirs[@]}"; do
		if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
			log "postgres: adding o+x (traverse only) to $d so the postgres user can reach its data"
			chmod o+x "$d"
		fi
	done
}

pg_up() {
	find_pg_bin || { apt_install postgresql; find_pg_bin || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"; }
	if is_root && ! id postgres >/dev/null 2>&1; then
		log "postgres: creating system user postgres"
		useradd --system --home-dir /var/lib/postgresql --shell /bin/bash --user-group postgres ||
			die "could not create the postgres system user"
	fi
	if pg_running && pg_ready; then
		log "postgres already up on $HOST:$POSTGRES_PORT (pid $(pid_of "$PG_DATA/postmaster.pid"))"
	else
		if [[ -e "$PG_DATA/postmaster.pid" ]] && ! pg_running; then
			log "postgres: removing stale postmaster.pid (no postgres of ours runs as pid $(pid_of "$PG_DATA/postmaster.pid"))"
			rm -f "$PG_DATA/postmaster.pid"
		fi
		if ! pg_running; then
			if port_open "$POSTGRES_PORT"; then
				die "postgres: port $HOST:$POSTGRES_PORT is already in use by another process ($(port_owner "$POSTGRES_PORT")); stop it or set SPINE_POSTGRES_PORT"
			fi
			# A socket lock file left by a killed server names a pid that may since belong
			# to another process, which would make postgres refuse to start.
			rm -f "$PG_RUN"/.s.PGSQL.*
		fi
		mkdir -p "$PG_ROOT"
		if is_root; then
			pg_fix_path_access
			chown postgres: "$PG_ROOT"
		fi
		chmod 700 "$PG_ROOT"
		as_pg mkdir -p "$PG_RUN"
		if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
			log "postgres: initdb $PG_DATA ($("$PG_BIN/postgres" --version))"
			rm -rf "$PG_DATA"
			as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale \
				</dev/null >"$PG_ROOT/initdb.log" 2>&1 || die_log "$PG_ROOT/initdb.log" "postgres: initdb failed"
			echo "include_if_exists = 'spine.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
		fi
		# Written on every start so port overrides apply.
		as_pg tee "$PG_DATA/spine.conf" >/dev/null <<EOF
# Generated by scripts/services.sh on every start; edits are overwritten.
listen_addresses = '$HOST'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 200
EOF
		if ! pg_running; then
			log "postgres: starting on $HOST:$POSTGRES_PORT"
			as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" start </dev/null >/dev/null 2>&1 9>&- ||
				die_log "$PG_LOG" "postgres failed to start (pg_ctl start)"
		fi
		local deadline=$((SECONDS + START_TIMEOUT))
		while ((SECONDS < deadline)); do
			pg_ready && break
			sleep 0.2
		done
		pg_ready || die_log "$PG_LOG" "postgres did not accept connections on $HOST:$POSTGRES_PORT within ${START_TIMEOUT}s"
		log "postgres up on $HOST:$POSTGRES_PORT (pid $(pid_of "$PG_DATA/postmaster.pid"))"
	fi
	# Role and database (cheap; run every time so a dropped one comes back).
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$POSTGRES_PORT" -U postgres)
	if [[ "$("${psql[@]}" -d postgres -tAc "select count(*) from pg_roles where rolname='spine'")" != 1 ]]; then
		log "postgres: creating role spine"
		"${psql[@]}" -d postgres -c "create role spine login password 'spine' createdb" </dev/null ||
			die "postgres: could not create role spine"
	fi
	if [[ "$("${psql[@]}" -d postgres -tAc "select count(*) from pg_database where datname='spine'")" != 1 ]]; then
		log "postgres: creating database spine"
		"${psql[@]}" -d postgres -c "create database spine owner spine" </dev/null ||
			die "postgres: could not create database spine"
	fi
}

pg_stop() {
	find_pg_bin || true
	if ! pg_running; then
		[[ -e "$PG_DATA/postmaster.pid" ]] && rm -f "$PG_DATA/postmaster.pid"
		log "postgres already stopped"
		return 0
	fi
	log "postgres: stopping (pid $(pid_of "$PG_DATA/postmaster.pid"))"
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 ||
		die_log "$PG_LOG" "postgres: pg_ctl stop failed"
}

# ---------------------------------------------------------------- keycloak
# Keycloak runs from the keycloak-quarkus-dist zip of Maven Central (checked
# against the .sha1 Maven publishes), unzipped once into $KC_DIST, in dev mode
# (`kc.sh start-dev`: HTTP, dev-file H2 database, local caches) with realm
# spine imported at start from a file this script generates.

# kc_secret CLIENT: the client's secret from $KC_CLIENTS_FILE (written by
# kc_write_secrets, one "client": "secret" member per line).
kc_secret() {
	[[ -r "$KC_CLIENTS_FILE" ]] || return 1
	sed -n "s/^  \"$1\": \"\\([A-Za-z0-9_-]*\\)\",\\{0,1\\}\$/\\1/p" "$KC_CLIENTS_FILE" | head -n1
}

# random_secret: 32 random bytes, base64url without padding (43 characters).
random_secret() { head -c32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# kc_write_secrets: give every client of KEYCLOAK_CLIENTS a secret, once: the
# secrets already in $KC_CLIENTS_FILE are kept; the file is mode 0600.
kc_write_secrets() {
	local c s i n=${#KEYCLOAK_CLIENTS[@]} body="{" changed=0
	for i in "${!KEYCLOAK_CLIENTS[@]}"; do
		c="${KEYCLOAK_CLIENTS[i]}"
		s="$(kc_secret "$c" || true)"
		if [[ -z "$s" ]]; then s="$(random_secret)"; changed=1; fi
		body+=$'\n'"  \"$c\": \"$s\""
		((i == n - 1)) || body+=","
	done
	body+=$'\n'"}"
	((changed)) || return 0
	log "keycloak: generating client secrets in $KC_CLIENTS_FILE"
	mkdir -p "$KC_DIR"
	(umask 077 && printf '%s\n' "$body" >"$KC_CLIENTS_FILE.tmp") && mv -f "$KC_CLIENTS_FILE.tmp" "$KC_CLIENTS_FILE"
}

# kc_write_realm FILE: the realm spine, imported by --import-realm when the
# database does not have it yet. Each client is confidential, has only the
# client_credentials grant (service account), and an Audience mapper that puts
# "spine" in aud of its access tokens (token.VerifierConfig's default audience).
kc_write_realm() {
	local f="$1" c i n=${#KEYCLOAK_CLIENTS[@]} clients=""
	for i in "${!KEYCLOAK_CLIENTS[@]}"; do
		c="${KEYCLOAK_CLIENTS[i]}"
		clients+="    {
      \"clientId\": \"$c\",
      \"name\": \"$c (spine test service)\",
      \"enabled\": true,
      \"protocol\": \"openid-connect\",
      \"publicClient\": false,
      \"clientAuthenticatorType\": \"client-secret\",
      \"secret\": \"$(kc_secret "$c")\",
      \"serviceAccountsEnabled\": true,
      \"standardFlowEnabled\": false,
      \"implicitFlowEnabled\": false,
      \"directAccessGrantsEnabled\": false,
      \"protocolMappers\": [
        {
          \"name\": \"audience spine\",
          \"protocol\": \"openid-connect\",
          \"protocolMapper\": \"oidc-audience-mapper\",
          \"consentRequired\": false,
          \"config\": {
            \"included.custom.audience\": \"spine\",
            \"access.token.claim\": \"true\",
            \"id.token.claim\": \"false\",
            \"introspection.token.claim\": \"true\"
          }
        }
      ]
    }"
		((i == n - 1)) || clients+=","
		clients+=$'\n'
	done
	(umask 077 && cat >"$f.tmp" <<EOJ
{
  "realm": "$KEYCLOAK_REALM",
  "displayName": "spine (generated by scripts/services.sh; edits are overwritten)",
  "enabled": true,
  "sslRequired": "none",
  "accessTokenLifespan": 300,
  "clients": [
$clients  ]
}
EOJ
	) && mv -f "$f.tmp" "$f"
}

# kc_ensure_dist: download and unzip Keycloak once.
kc_ensure_dist() {
	[[ -f "$KC_HOME/.complete" ]] && return 0
	local name="keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
	local url="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/$name"
	local zip="$KC_DIST/$name" want got
	mkdir -p "$KC_DIST"
	want="$(curl -fsSL --retry 3 "$url.sha1" 2>>"$KC_DIST/download.log" | awk '{print $1}' | tr -dc '0-9a-f')" ||
		die_log "$KC_DIST/download.log" "keycloak: could not fetch $url.sha1"
	[[ ${#want} -eq 40 ]] || die "keycloak: $url.sha1 is not a SHA-1 ('$want')"
	log "keycloak: downloading $url"
	curl -fsSL --retry 3 -o "$zip.part" "$url" 2>>"$KC_DIST/download.log" ||
		die_log "$KC_DIST/download.log" "keycloak: could not download $url"
	got="$(sha1sum "$zip.part" | awk '{print $1}')"
	if [[ "$got" != "$want" ]]; then
		rm -f "$zip.part"
		die "keycloak: $name has SHA-1 $got, Maven Central publishes $want"
	fi
	mv -f "$zip.part" "$zip"
	log "keycloak: unzipping $name ($(du -m "$zip" | cut -f1) MB, SHA-1 $got checked)"
	rm -rf "$KC_HOME"
	unzip -q -o "$zip" -d "$KC_DIST" || die "keycloak: could not unzip $zip"
	[[ -x "$KC_HOME/bin/kc.sh" ]] || die "keycloak: $KC_HOME/bin/kc.sh missing after unzipping $zip"
	rm -f "$zip" # the unzipped tree is the cache
	touch "$KC_HOME/.complete"
}

kc_ready() { curl -fsS -o /dev/null -m 5 "$KC_ISSUER/.well-known/openid-configuration" 2>/dev/null; }
# kc.sh runs as the pid we start and execs java; both name the canonical home.
kc_running() { pid_matches "$KC_PID" "$(readlink -m "$KC_HOME")/bin/"; }

# kc_check_client CLIENT: the client_credentials grant works with the stored
# secret and the access token's aud has "spine". The credentials go to curl on
# stdin, not on its command line.
kc_check_client() {
	local c="$1" body payload
	body="$(printf 'user = "%s:%s"\n' "$c" "$(kc_secret "$c")" |
		curl -sS -m 10 -K - -d grant_type=client_credentials "$KC_ISSUER/protocol/openid-connect/token" 2>&1)" || true
	payload="$(sed -n 's/.*"access_token":"[^".]*\.\([^".]*\)\..*/\1/p' <<<"$body" | tr '_-' '/+')"
	if [[ -z "$payload" ]]; then
		log "keycloak: client $c: no token from $KC_ISSUER ($(head -c 300 <<<"$body"))"
		return 1
	fi
	while ((${#payload} % 4)); do payload+="="; done
	if ! base64 -d <<<"$payload" 2>/dev/null | grep -Eq '"aud":("spine"|\[[^]]*"spine")'; then
		log "keycloak: client $c: the access token's aud does not contain \"spine\""
		return 1
	fi
}

kc_up() {
	local rc=0
	begin_start keycloak "$KC_PID" kc_running kc_ready SPINE_KEYCLOAK_PORT/SPINE_KEYCLOAK_MANAGEMENT_PORT \
		"$KEYCLOAK_PORT" "$KEYCLOAK_MANAGEMENT_PORT" || rc=$?
	((rc == 0)) && return 0
	if ((rc == 2)); then
		ensure_java
		kc_ensure_dist
		kc_write_secrets
		[[ -s "$KC_ADMIN_FILE" ]] || (umask 077 && random_secret >"$KC_ADMIN_FILE")
		mkdir -p "$KC_DATA" "$KC_HOME/data/import"
		chmod 700 "$KC_DATA" # the database holds the client secrets
		local realm="$KC_HOME/data/import/$KEYCLOAK_REALM-realm.json" sum
		kc_write_realm "$realm"
		# The import skips a realm the database already has: a database made
		# from another realm file (new client, new secret) is recreated.
		sum="$(sha256sum "$realm" | cut -c1-64)"
		if [[ -d "$KC_DATA/h2" && "$(cat "$KC_DATA/realm.sha256" 2>/dev/null)" != "$sum" ]]; then
			log "keycloak: the realm file changed since the database was made; recreating $KC_DATA/h2"
			rm -rf "$KC_DATA/h2" "$KC_DATA/realm.sha256"
		fi
		[[ -d "$KC_DATA/h2" ]] || rm -rf "$KC_HOME/data/transaction-logs"
		[[ -s "$KC_LOG" ]] && mv -f "$KC_LOG" "$KC_LOG.1"
		local home first=""
		home="$(readlink -f "$KC_HOME")"
		[[ -d "$KC_DATA/h2" ]] || first=" (first start: build, schema, realm import; 30 s to 2 min)"
		log "keycloak: starting $KEYCLOAK_VERSION (start-dev, heap $KEYCLOAK_HEAP) on $HOST:$KEYCLOAK_PORT$first"
		# setsid: own session and process group (kc.sh runs a build JVM, then
		# execs the server JVM). JAVA_OPTS unset so kc.sh applies its defaults
		# plus JAVA_OPTS_KC_HEAP. KEYCLOAK_ADMIN only acts on the first start.
		env -u JAVA_OPTS -u JAVA_OPTS_APPEND JAVA="$JAVA" JAVA_OPTS_KC_HEAP="-Xms64m -Xmx$KEYCLOAK_HEAP" \
			KEYCLOAK_ADMIN=admin KEYCLOAK_ADMIN_PASSWORD="$(cat "$KC_ADMIN_FILE")" \
			setsid "$home/bin/kc.sh" start-dev --http-host="$HOST" --http-port="$KEYCLOAK_PORT" \
			--http-management-port="$KEYCLOAK_MANAGEMENT_PORT" --hostname="http://$HOST:$KEYCLOAK_PORT" \
			--db-url="jdbc:h2:file:$KC_DATA/h2/keycloakdb;NON_KEYWORDS=VALUE" --import-realm \
			</dev/null >>"$KC_LOG" 2>&1 8>&- 9>&- &
		echo "$!" >"$KC_PID"
	fi
	local t0=$SECONDS next=$((SECONDS + 30)) deadline=$((SECONDS + KEYCLOAK_TIMEOUT)) c
	while ((SECONDS < deadline)); do
		if kc_ready; then
			for c in "${KEYCLOAK_CLIENTS[@]}"; do
				kc_check_client "$c" ||
					die_log "$KC_LOG" "keycloak: realm $KEYCLOAK_REALM does not serve client $c as generated; stop keycloak and delete $KC_DATA to re-import it"
			done
			sha256sum "$KC_HOME/data/import/$KEYCLOAK_REALM-realm.json" 2>/dev/null | cut -c1-64 >"$KC_DATA/realm.sha256" || true
			log "keycloak up on $HOST:$KEYCLOAK_PORT in $((SECONDS - t0))s (pid $(pid_of "$KC_PID"), issuer $KC_ISSUER, clients ${KEYCLOAK_CLIENTS[*]})"
			return 0
		fi
		if ! kc_running; then
			rm -f "$KC_PID"
			die_log "$KC_LOG" "keycloak exited during startup (log: $KC_LOG)"
		fi
		if ((SECONDS >= next)); then
			log "keycloak: still starting ($((SECONDS - t0))s)"
			next=$((SECONDS + 30))
		fi
		sleep 1
	done
	kc_stop >/dev/null 2>&1 || true
	die_log "$KC_LOG" "keycloak did not serve $KC_ISSUER within ${KEYCLOAK_TIMEOUT}s (SPINE_KEYCLOAK_TIMEOUT); stopped it"
}

# Its whole process group (setsid): during start-up kc.sh has a child JVM.
kc_stop() { stop_process keycloak "$KC_PID" kc_running 60 group; }

# ---------------------------------------------------------------- commands
lock_state() {
	mkdir -p "$STATE"
	# fd 9 holds the lock; every daemon is started with 9>&- so it does not inherit it.
	exec 9>"$STATE/.lock"
	flock -w 300 9 || die "another services.sh has held $STATE/.lock for 5 minutes (see: fuser -v $STATE/.lock)"
}

# Install every missing Debian package in one apt-get run (the slow part of a cold start).
ensure_packages() {
	local need=()
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		need+=(redis-server redis-tools)
	fi
	command -v kcat >/dev/null 2>&1 || command -v kafkacat >/dev/null 2>&1 || need+=(kafkacat)
	find_pg_bin || need+=(postgresql)
	command -v java >/dev/null 2>&1 || [[ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]] || need+=(openjdk-17-jre-headless)
	[[ -f "$KAFKA_LIBS/.complete" ]] || command -v mvn >/dev/null 2>&1 || need+=(maven)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	command -v openssl >/dev/null 2>&1 || need+=(openssl)
	[[ -f "$KC_HOME/.complete" ]] || command -v unzip >/dev/null 2>&1 || need+=(unzip)
	((${#need[@]} == 0)) || apt_install "${need[@]}"
}

cmd_up() {
	lock_state
	local t0=$SECONDS i failed=() pids=() svcs=("${KAFKA_INSTANCES[@]}" redis postgres keycloak)
	ensure_packages
	export APT_UPDATED
	# The services start in parallel, each in its own process (with set -e in force),
	# so one that fails does not keep the others down; the lock (fd 9) is inherited.
	for i in "${!svcs[@]}"; do
		"$BASH" "${BASH_SOURCE[0]}" __up "${svcs[i]}" &
		pids[i]=$!
	done
	for i in "${!svcs[@]}"; do
		wait "${pids[i]}" || failed+=("${svcs[i]}")
	done
	((${#failed[@]} == 0)) || die "failed to bring up: ${failed[*]} (see the errors above; state in $STATE)"
	log "all services up ($((SECONDS - t0))s); state in $STATE"
	print_env
}

cmd_down() {
	lock_state
	local k
	for k in "${KAFKA_INSTANCES[@]}"; do kafka_stop "$k"; done
	redis_stop
	pg_stop
	kc_stop
}

# status_one NAME PORT PIDFILE RUNNING_FN READY_FN [EXTRA]: print one line; true if up.
status_one() {
	local name="$1" port="$2" pidfile="$3" running="$4" ready="$5" extra="${6:-}" state=down detail=""
	if "$running"; then
		if "$ready"; then
			state=up
			detail=" (pid $(pid_of "$pidfile")$extra)"
		else
			detail=" (pid $(pid_of "$pidfile") running but not answering)"
		fi
	elif port_open "$port"; then
		detail=" (port held by a process not started from $STATE: $(port_owner "$port"))"
	fi
	printf '%-10s %-5s %s%s\n' "$name" "$state" "$HOST:$port" "$detail"
	[[ "$state" == up ]]
}

cmd_status() {
	local bad=0
	KCAT="$(command -v kcat || true)"
	find_pg_bin || true
	kafka_select kafka
	status_one kafka "$K_PORT" "$K_PID" kafka_running kafka_ready ", kafka $KAFKA_VERSION" || bad=1
	kafka_select kafka-sasl
	status_one kafka-sasl "$K_PORT" "$K_PID" kafka_running kafka_ready \
		", kafka $KAFKA_VERSION, SASL_PLAINTEXT/PLAIN, StandardAuthorizer" || bad=1
	status_one redis "$REDIS_PORT" "$REDIS_PID" redis_running redis_ready || bad=1
	status_one postgres "$POSTGRES_PORT" "$PG_DATA/postmaster.pid" pg_running pg_ready || bad=1
	status_one keycloak "$KEYCLOAK_PORT" "$KC_PID" kc_running kc_ready \
		", keycloak $KEYCLOAK_VERSION, issuer $KC_ISSUER" || bad=1
	return "$bad"
}

cmd_restart() { # cmd_restart SERVICE
	lock_state
	ensure_packages
	case "${1:-}" in
	kafka | kafka-sasl) kafka_stop "$1" && "$BASH" "${BASH_SOURCE[0]}" __up "$1" keep ;;
	redis) redis_stop && "$BASH" "${BASH_SOURCE[0]}" __up redis ;;
	postgres) pg_stop && "$BASH" "${BASH_SOURCE[0]}" __up postgres ;;
	keycloak) kc_stop && "$BASH" "${BASH_SOURCE[0]}" __up keycloak ;;
	*) die "restart: unknown service '${1:-}' (kafka, kafka-sasl, redis, postgres or keycloak)" ;;
	esac
}

cmd_reset() {
	cmd_down
	local k
	for k in "${KAFKA_INSTANCES[@]}"; do
		kafka_select "$k"
		log "reset: deleting $K_NAME's data and logs in $K_DIR (jar cache kept)"
		rm -rf "$K_DATA" "$K_LOGS" "$K_PID"
	done
	log "reset: deleting $REDIS_DIR, $PG_ROOT"
	rm -rf "$REDIS_DIR" "$PG_ROOT"
	# The database and the secrets go together (a fresh realm import gets new
	# secrets); the unzipped dist is kept, its data/ (realm file,
	# transaction logs) is not.
	log "reset: deleting keycloak's database, secrets and logs in $KC_DIR (dist kept)"
	rm -rf "$KC_DATA" "$KC_CLIENTS_FILE" "$KC_ADMIN_FILE" "$KC_LOG" "$KC_LOG.1" "$KC_PID" "$KC_HOME/data"
}

usage() { # usage EXIT_CODE
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit "$1"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) print_env ;;
reset) cmd_reset ;;
restart) cmd_restart "${2:-}" ;;
__up) # internal: cmd_up runs this for each service while holding the lock
	case "${2:-}" in
	redis) redis_up ;; postgres) pg_up ;; kafka | kafka-sasl) kafka_up "$2" "${3:-}" ;; keycloak) kc_up ;;
	*) die "unknown service '${2:-}'" ;;
	esac ;;
-h | --help | help) usage 0 ;;
*)
	[[ -z "${1:-}" ]] || log "unknown command '$1'"
	usage 2
	;;
esac
