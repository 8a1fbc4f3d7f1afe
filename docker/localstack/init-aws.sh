#!/usr/bin/env bash
# LocalStack "ready" hook (mounted into /etc/localstack/init/ready.d/ by docker-compose.yml):
# creates what Tickr's AWS adapters expect to exist, as the infrastructure code does in AWS.
#
#   S3    the private, encrypted image bucket (S3_BUCKET)
#   SES   the verified sender (the address in EMAIL_FROM) and the configuration set
#         (SES_CONFIGURATION_SET) every message is sent with
#   SNS   account SMS defaults (transactional, as for one-time codes and ticket notices)
#   CloudWatch needs nothing: PutMetricData creates metrics on first use.
#
# Idempotent: every step checks first or is an overwrite, so a restarted container (or running
# it by hand: docker-compose exec localstack /etc/localstack/init/ready.d/init-aws.sh) is fine.
# Everything is created in AWS_REGION, the region the app's SDK clients use.
set -euo pipefail

REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
BUCKET="${S3_BUCKET:-tickr-images}"
EMAIL_FROM="${EMAIL_FROM:-Tickr <no-reply@tickr.local>}"
CONFIGURATION_SET="${SES_CONFIGURATION_SET:-tickr-transactional}"

# "Tickr <no-reply@tickr.local>" -> "no-reply@tickr.local"; a bare address stays as it is.
SENDER="$(printf '%s' "$EMAIL_FROM" | sed -E 's/^.*<([^>]+)>.*$/\1/; s/^[[:space:]]+//; s/[[:space:]]+$//')"

aws_() { awslocal --region "$REGION" "$@"; }
log() { printf '[init-aws] %s\n' "$*"; }

log "region=$REGION bucket=$BUCKET sender=$SENDER configuration-set=$CONFIGURATION_SET"

# --- S3 ---------------------------------------------------------------------------------------
if aws_ s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
  log "bucket $BUCKET exists"
else
  if [[ "$REGION" == "us-east-1" ]]; then
    aws_ s3api create-bucket --bucket "$BUCKET" >/dev/null
  else
    aws_ s3api create-bucket --bucket "$BUCKET" \
      --create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
  fi
  log "bucket $BUCKET created"
fi
# Private: no ACLs (bucket owner owns every object), no public access of any kind.
aws_ s3api put-bucket-ownership-controls --bucket "$BUCKET" \
  --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'
aws_ s3api put-public-access-block --bucket "$BUCKET" \
  --public-access-block-configuration \
  'BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true'
# Default encryption: SSE-S3 (AES256).
aws_ s3api put-bucket-encryption --bucket "$BUCKET" \
  --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BucketKeyEnabled":true}]}'
log "bucket $BUCKET: private, SSE AES256"

# --- SES --------------------------------------------------------------------------------------
# Verifying an address again is a no-op (LocalStack marks it verified at once).
aws_ ses verify-email-identity --email-address "$SENDER"
log "sender $SENDER verified"

if aws_ ses describe-configuration-set --configuration-set-name "$CONFIGURATION_SET" >/dev/null 2>&1; then
  log "configuration set $CONFIGURATION_SET exists"
else
  aws_ ses create-configuration-set --configuration-set "Name=$CONFIGURATION_SET"
  log "configuration set $CONFIGURATION_SET created"
fi

# --- SNS --------------------------------------------------------------------------------------
# Direct-to-phone Publish needs no topic; only the account defaults.
aws_ sns set-sms-attributes --attributes DefaultSMSType=Transactional
log "SNS SMS defaults set"

log "done"
