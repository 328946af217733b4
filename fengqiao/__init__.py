"""What every Fengqiao service needs, written once: configuration, database pool and
migrations, the event envelope, outbox and inbox, the event-handler and HTTP entrypoints,
authentication and metrics."""

import warnings

# eventlet announces its maintenance mode on every import (ENGINEERING pitfall 8); the
# warning class is eventlet's own, so match its text.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
