"""Calls the research agent from Python with the typed client generated from
research.proto (research_asap.ResearchAgentClient, on grpcio).

    bazel run //examples/research_agent:client_py -- 127.0.0.1:50051
"""

import sys

import grpc

from examples.research_agent import research_asap, research_pb2


def main(target):
    with grpc.insecure_channel(target) as channel:
        research = research_asap.ResearchAgentClient(
            channel, sender="urn:asap:agent:research-client-py")
        found = research.search(
            research_pb2.SearchRequest(query="retries replicas"), timeout=5)
        print("python: search: %d papers" % found.total)
        for paper in found.papers:
            print("  %s %s (%s)" % (paper.id, paper.title,
                                    research_pb2.Venue.Name(paper.venue)))
        summary = research.summarize(
            research_pb2.SummarizeRequest(paper_id=found.papers[0].id,
                                          max_words=30),
            on_progress=lambda percent, message: print(
                "python:   progress %.0f%% %s" % (percent, message)),
            timeout=5)
        print("python: summary: %s" % summary.text)
        try:
            research.search(research_pb2.SearchRequest(query=""), timeout=5)
        except research_asap.AsapError as error:
            print("python: empty query -> %s" % error)


if __name__ == "__main__":
    main(sys.argv[1])
