"""The replay area's throwaway redis-server fixture, shared with these tests."""

from tests.replay.conftest import redis_server

__all__ = ["redis_server"]
