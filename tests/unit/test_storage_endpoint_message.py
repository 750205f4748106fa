"""A hub started on a data dir's bucket through another S3 endpoint is told the endpoint differs."""

import json

import pytest

from hubver.server.storage_config import STORAGE_FILE, configure
from hubver.server.storage_errors import InvalidOperation


def test_another_s3_endpoint_for_the_same_bucket_says_the_endpoint_differs(tmp_path):
    (tmp_path / STORAGE_FILE).write_text(json.dumps({"storage": "s3://bkt/p", "endpoint": "http://e1:8333"}))
    with pytest.raises(InvalidOperation) as e:
        configure(tmp_path, "s3://bkt/p", "http://e2:8333")
    msg = str(e.value)
    assert "endpoint differs (http://e1:8333 vs http://e2:8333)" in msg, msg
    assert "not s3://bkt/p" not in msg
