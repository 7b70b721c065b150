# The Ruby side of test_sidekiq.py: a real Sidekiq (Debian's 6.4) running
# the jobs sluice pushes. Each job appends what it was given to `results`
# (under the namespace, if any), so the test can count every performance.
require "json"
require "sidekiq"
require "active_job"

Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
redis = { url: ENV.fetch("REDIS_URL") }
namespace = ENV.fetch("SIDEKIQ_NAMESPACE", "")
redis[:namespace] = namespace unless namespace.empty?
Sidekiq.configure_client { |config| config.redis = redis }
Sidekiq.configure_server do |config|
  config.redis = redis
  config.average_scheduled_poll_interval = 1  # scheduled jobs move within a second or two
  config.on(:startup) { Sidekiq.redis { |r| r.set("worker-ready", Process.pid) } }
end
ActiveJob::Base.queue_adapter = :sidekiq
ActiveJob::Base.logger = Logger.new(nil)

def record(kind, jid, args, extra = {})
  Sidekiq.redis { |r| r.rpush("results", JSON.dump({ kind: kind, jid: jid, args: args }.merge(extra))) }
end

class CallbackWorker
  include Sidekiq::Worker
  def perform(*args)
    raise "refused on purpose: #{args.inspect}" if args.include?("explode")
    record("plain", jid, args)
  end
end

# The seed's ActiveJob: [To, MessageStatus, Body, timestamp].
class StatusCallbackJob < ActiveJob::Base
  def perform(*args)
    raise "refused on purpose: #{args.inspect}" if args.include?("explode")
    record("active_job", provider_job_id, args, job_id: job_id, queue: queue_name)
  end
end
