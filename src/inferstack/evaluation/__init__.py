"""`inferstack eval`: answer-quality evaluation of a running agent over HTTP (retrieval, answers, honesty, latency).

A client app like `bench`: it never imports the agent, it sends questions to POST /query and scores the replies.
"""
