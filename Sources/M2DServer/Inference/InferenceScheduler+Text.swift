// The text side of InferenceScheduler: text jobs are queued beside audio jobs under the same lock, and the
// scheduler's thread encodes them in groups (TextJob.groupRows token rows, taken from every waiting text job in
// turn) between audio batches.
import Foundation
import M2DTensor
import M2DText

extension InferenceScheduler {
    /// Enqueues a text job; false when `capacity` jobs wait already or the scheduler is stopping.
    public func submit(_ job: TextJob) -> Bool { enqueue { textJobs.append(job) } }

    /// Drops the text job's texts that have not reached the encoder; its completion is not called.
    public func cancel(_ job: TextJob) {
        condition.withLock {
            job.cancelled = true
            condition.signal()
        }
    }

    /// Texts from every waiting text job in turn, up to TextJob.groupRows token rows (at least one text).
    func nextTextGroup() -> TextGroup {
        var group = TextGroup()
        var progressed = true
        while progressed {
            progressed = false
            for job in textJobs where job.remaining > 0 {
                let rows = job.sequences[job.taken].count
                if !group.parts.isEmpty && group.rows + rows > TextJob.groupRows { return group }
                if let last = group.parts.indices.last, group.parts[last].job === job,
                    group.parts[last].range.upperBound == job.taken
                {
                    group.parts[last].range = group.parts[last].range.lowerBound..<(job.taken + 1)
                } else {
                    group.parts.append((job, job.taken..<(job.taken + 1)))
                }
                job.taken += 1
                group.rows += rows
                progressed = true
            }
        }
        return group
    }

    func finishText(_ group: TextGroup, failure: TextModelError?, start: UInt64, elapsed: UInt64) {
        var done: [TextJob] = []
        // The text encoder has its own engine: its failures answer its jobs, not the audio worker's health.
        condition.withLock {
            lastProgress = DispatchTime.now().uptimeNanoseconds
            var seen: [TextJob] = []
            for part in group.parts {
                part.job.done += part.range.count
                if !seen.contains(where: { $0 === part.job }) { seen.append(part.job) }
            }
            for job in seen {
                if !job.started { job.started = true; job.timings.queueNanos = start &- job.enqueuedNanos }
                job.timings.inferenceNanos &+= elapsed
                if (failure != nil || job.done == job.sequences.count), !job.cancelled, !job.finished {
                    job.finished = true
                    done.append(job)
                }
            }
            textJobs.removeAll { $0.finished }
        }
        for job in done {
            let timings = job.timings, completion = job.completion, output = job.output
            let result: Result<FloatBuffer, ServerError> =
                failure.map { .failure(.backend($0.description)) } ?? .success(output)
            DispatchQueue.global().async { completion(result, timings) }
        }
    }
}
