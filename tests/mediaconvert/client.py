"""Drives mpe's local MediaConvert API with the real boto3 clients, as a user would.

    python client.py S3_URL MEDIACONVERT_URL SOURCE JOB_JSON [DOWNLOAD_DIR]

Creates the buckets `raw` and `media` (if missing), uploads SOURCE to
s3://raw/uploads/<name> (multipart), submits JOB_JSON (a CreateJob request as
`mpe cloud render` writes it) with the MediaConvert client, waits for the job to end,
and prints JSON: the final job, the ids ListJobs returns (also page by page, one job
a page), and the keys under s3://media/asset/, which it downloads into DOWNLOAD_DIR
when given.
"""

import json
import os
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig


def main():
    s3_url, mc_url, source, job_file = sys.argv[1:5]
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    mc = boto3.client("mediaconvert", endpoint_url=mc_url, region_name="us-east-1")
    for bucket in ("raw", "media"):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    # A small part size so that even a test fixture goes up in several parts.
    parts = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(source, "raw", "uploads/" + os.path.basename(source), Config=parts)
    with open(job_file) as f:
        request = json.load(f)
    job = mc.create_job(**request)["Job"]
    deadline = time.time() + 300
    while job["Status"] in ("SUBMITTED", "PROGRESSING") and time.time() < deadline:
        time.sleep(0.3)
        job = mc.get_job(Id=job["Id"])["Job"]
    listed = [j["Id"] for j in mc.list_jobs()["Jobs"]]
    paged = []
    for page in mc.get_paginator("list_jobs").paginate(PaginationConfig={"PageSize": 1}):
        paged += [j["Id"] for j in page["Jobs"]]
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="media", Prefix="asset/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    if len(sys.argv) > 5:
        for key in keys:
            path = os.path.join(sys.argv[5], key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file("media", key, path)
    report = {"job": job, "listed": listed, "paged": paged, "keys": sorted(keys)}
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
