"""huggingface_hub's retry warnings never print a presigned URL's signature once hubver set up its client."""

import logging

from hubver.client import _use_timeouts


def test_huggingface_hubs_retry_warning_is_scrubbed_of_presigned_credentials(caplog):
    _use_timeouts()
    url = "http://s3:8333/b/p/abc?X-Amz-Credential=AKEY%2F2026&X-Amz-Signature=deadbeef1234&X-Amz-Expires=900"
    with caplog.at_level(logging.WARNING):
        logging.getLogger("huggingface_hub.utils._http").warning(
            "'%s' thrown while requesting %s %s", "boom", "PUT", url
        )
    text = caplog.text
    assert "deadbeef1234" not in text and "AKEY" not in text, text
    assert "X-Amz-Expires=900" in text and "PUT http://s3:8333/b/p/abc" in text
