"""The web console served by the gateway at `/ui`: sign-in, playground, keys, usage and health."""
